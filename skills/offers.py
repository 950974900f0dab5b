"""Today's offers; personalised (the customer's favourite category first) when the customer is
identified and consented to personalisation."""

from __future__ import annotations

from skills.api import Offer, Reply, Skill, SkillContext, text

SENTENCES_EN = """
[GetOffers]
what are [the | today's | your] offers [today]
(are there | do you have) any (offers | deals | specials) [today]
what is on (offer | sale) [today]
"""

NONE = {"en": "There are no special offers today.", "de": "Heute gibt es keine Angebote."}
FOR_YOU = {"en": "Especially for you: {offer}", "de": "Speziell für Sie: {offer}"}
GENERAL = {"en": "Today's offers: {offers}", "de": "Die Angebote heute: {offers}"}


def _text_of(ctx: SkillContext, offer: Offer) -> str:
    return offer.text.get(ctx.lang) or offer.text["en"]


async def offers(ctx: SkillContext) -> Reply:
    available = list(ctx.shop.store.offers)
    if not available:
        return Reply(text(ctx, NONE))
    profile = ctx.customer.profile if ctx.customer is not None else None
    favourite = profile.get("favourite_category") if profile else None
    mine = [o for o in available if favourite and o.category == favourite]
    if mine:
        return Reply(text(ctx, FOR_YOU, offer=_text_of(ctx, mine[0])))
    return Reply(text(ctx, GENERAL, offers=" ".join(_text_of(ctx, o) for o in available[:3])))


SKILL = Skill(name="offers", sentences={"en": SENTENCES_EN}, handlers={"GetOffers": offers})
