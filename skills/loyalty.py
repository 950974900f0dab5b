"""Loyalty points balance: only for an identified customer who consented to personalisation."""

from __future__ import annotations

from skills.api import Reply, Skill, SkillContext, text

SENTENCES_EN = """
[GetPointsBalance]
how many [loyalty] points do i have
what is my [loyalty] points balance
(check | tell me) my [loyalty] points
"""

TAP = {"en": "Please tap your loyalty card on the reader first.", "de": "Bitte halten Sie zuerst Ihre Kundenkarte an das Lesegerät."}
NO_CONSENT = {
    "en": "I can only tell you your points if you allow personalisation in the app.",
    "de": "Ihre Punkte kann ich nur nennen, wenn Sie der Personalisierung zugestimmt haben.",
}
BALANCE = {"en": "You have {points} loyalty points.", "de": "Sie haben {points} Treuepunkte."}


async def balance(ctx: SkillContext) -> Reply:
    if ctx.customer is None:
        return Reply(text(ctx, TAP))
    if ctx.customer.profile is None:
        return Reply(text(ctx, NO_CONSENT))
    points = ctx.customer.profile.get("loyalty_points", 0)
    return Reply(text(ctx, BALANCE, points=points if isinstance(points, int) else 0))


SKILL = Skill(name="loyalty", sentences={"en": SENTENCES_EN}, handlers={"GetPointsBalance": balance})
