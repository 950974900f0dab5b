"""Today's offers; personalised (the customer's favourite category first) when the customer is
identified and consented to personalisation."""

from __future__ import annotations

from skills.api import Offer, Reply, Skill, SkillContext, text

SENTENCES_EN = """
[GetOffers]
[<of_polite>] <of_ask> [<of_when>] [please]
[(today's | the | your | any)] [special] <of_deals> [<of_when>] [please]
of_ask = (what are [the | today's | your | this week's | the current | your current] [special] <of_deals> | (are there | do you have | have you got | got | is there | you got) any [special] <of_deals> | (what's | what is) (on (offer | sale | special | promotion) | discounted | reduced | cheap) | (is | are) (anything | there any things | any things) on (offer | sale | special) | anything (on (offer | sale | special) | discounted | reduced) | (tell me about | show me | what about) [the | today's | your] [special] <of_deals> | what (deal | offer | bargain) (do you have | have you got) | do you have (anything | something) on (offer | sale | special) | (what | which) [special] <of_deals> (have you got | do you have | are there | are on) | (tell me | give me | read me) [the] [current | latest | best] <of_deals> | (what's | what is) the <of_deals> of the (day | week) | anything (cheap | cheaper | on offer) | (any | got any) (two for one | half price | buy one get one free) [deals | offers])
of_deals = (offer | offers | deal | deals | special | specials | bargain | bargains | discount | discounts | promotion | promotions | sale | sales)
of_when = (today | this week | right now | now | at the moment)
of_polite = (please | excuse me | hello | hi | (can | could) you tell me | do you know | tell me)
"""

SENTENCES_DE = """
[GetOffers]
[<de_of_bitte>] <de_of_frage> [bitte]
[<de_of_bitte>] (sagen sie mir | zeigen sie mir | nennen sie mir) [bitte] die [aktuellen] angebote
[die] (angebote | sonderangebote) [<de_of_wann>] [bitte]
de_of_frage = ((welche | was für) (angebote | sonderangebote | aktionen | rabatte) (gibt es | habt ihr | haben sie) [<de_of_wann>] | (gibt es | habt ihr | haben sie) [<de_of_wann>] (angebote | sonderangebote | aktionen | rabatte | etwas im angebot | was im angebot) | was (ist | gibt es | gibt's) [<de_of_wann>] (im angebot | reduziert | günstig | billiger) | welche (produkte | artikel | sachen) sind [<de_of_wann>] (reduziert | im angebot | günstiger) | gibt es [<de_of_wann>] (prozente | rabatt) | (zeig | zeigen sie) mir die angebote)
de_of_wann = (heute | diese woche | gerade | im moment | zurzeit)
de_of_bitte = (bitte | hallo | entschuldigung | sagen sie mir | können sie mir sagen)
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


# Key words (gateway/voice/nlu/keywords.py) for wordings no sentence has.
_DEALS_EN = "offer*|deal*|discount*|sale|sales|special|specials|bargain*|promo*|reduced|coupon*|cheap*|savings|clearance|markdown*|marked down|multibuy*|half price|two for one|voucher*|sticker*|bogof|buy one get one"
# compounds ("Wochenangebote") and the other words for a price cut ("herabgesetzt", "Ausverkauf")
_DEALS_DE = "angebot*|sonderangebot*|wochenangebot*|tagesangebot*|aktion*|rabatt*|reduziert*|herabgesetzt*|runtergesetzt*|prozente|günstig*|billig*|schnäppchen|sale|deal*|coupon*|sparen|spart|sparpreis*|sparangebot*|ausverkauf|schlussverkauf|prospekt*|sonderpreis*|zwei für eins|gutschein*"
KEYWORDS = {
    "en": {"GetOffers": [_DEALS_EN, f"{_DEALS_EN} + today|week|weekly|now|current*|latest|new|moment|running|on"]},
    "de": {"GetOffers": [_DEALS_DE, f"{_DEALS_DE} + heute|woche|aktuell*|gerade|neu*|moment|laufen|läuft|gibt"]},
}

SKILL = Skill(name="offers", sentences={"en": SENTENCES_EN, "de": SENTENCES_DE}, keywords=KEYWORDS, handlers={"GetOffers": offers})
