"""Loyalty points balance: only for an identified customer who consented to personalisation."""

from __future__ import annotations

from skills.api import Reply, Skill, SkillContext, text

SENTENCES_EN = """
[GetPointsBalance]
[<lp_polite>] <lp_ask> [<lp_where>] [please]
[my] [<lp_kind>] (points | points balance | point balance | balance) [please]
lp_ask = (how many [<lp_kind>] points (do i have | have i got | i have | are on my (card | account) | did i (collect | earn | get) | have i (collected | earned | saved | saved up | got left)) | how much is on my [<lp_kind>] (card | account) | have i got any [<lp_kind>] points [left] | (what's | what is) my [<lp_kind>] [points | point] balance | (what's | what is) on my [<lp_kind>] (card | account) | (check | tell me | show me | give me | read) my [<lp_kind>] (points | point balance | points balance | balance) | (can | could) you check my [<lp_kind>] (points | balance | card) | how much (points | credit) (do i have | have i got) | do i have (any | enough) [<lp_kind>] points | (i'd | i would) like to know my [<lp_kind>] (points | balance))
lp_kind = (loyalty | bonus | reward | rewards | club | store | customer)
lp_where = (on my (card | account) | so far | now)
lp_polite = (please | excuse me | hello | hi | (can | could) you tell me | tell me)
"""

SENTENCES_DE = """
[GetPointsBalance]
[<de_lp_bitte>] <de_lp_frage> [bitte]
[mein] (punktestand | kontostand) [bitte]
de_lp_frage = (wie viel (ist | steht) auf meiner (karte | kundenkarte | bonuskarte) | (können sie | kannst du) [mal] meine <de_lp_punkte> (nachschauen | checken | prüfen) | (zeig | zeigen sie) mir meinen (punktestand | kontostand) | wie (viele | viel) <de_lp_punkte> (habe ich | hab ich) [noch | auf meiner karte | auf meinem konto] | wie (ist | lautet) mein (punktestand | kontostand) | was (ist | steht) auf meiner (karte | kundenkarte) | (zeig | zeigen sie | sag | sagen sie) mir [bitte] meine <de_lp_punkte> | [meine] <de_lp_punkte>)
[<de_lp_bitte>] ich (möchte | will | würde gern | würde gerne) [gern | gerne] (meinen (punktestand | kontostand) | meine <de_lp_punkte>) (wissen | erfahren | sehen | hören)
de_lp_punkte = (punkte | treuepunkte | bonuspunkte | payback punkte | paybackpunkte)
de_lp_bitte = (bitte | hallo | entschuldigung | können sie mir sagen | sagen sie mir)
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


# Key words (gateway/voice/nlu/keywords.py) for wordings no sentence has.
_POINTS_EN = "point|points|balance|loyalty|reward|rewards|clubcard|stamp card"
_POINTS_DE = "punkt*|kontostand|treuepunkt*|treuekonto|bonus|bonuspunkt*|bonuskonto|payback*|guthaben|bonusguthaben|stempel*|prämie*"
KEYWORDS = {
    "en": {"GetPointsBalance": [_POINTS_EN, f"{_POINTS_EN} + my|card|account|total|how|many|much|collected|earned|saved|left|voucher*|redeem|worth|expire*|scheme|status|looking|full|nearly|close|wise"]},
    "de": {"GetPointsBalance": [_POINTS_DE, f"{_POINTS_DE} + mein*|karte|kundenkarte|konto|wie|viel*|noch|gesammelt|gutschein*|prämie|einlösen|wert|verfallen|treueprogramm|abfragen|hoch|reicht|reichen|lies|vorlesen|check*|prüf*|nachschau*|weit|fehl*|nächste*|bekommen|gesammelt|gespart|angespart"]},
}

SKILL = Skill(name="loyalty", sentences={"en": SENTENCES_EN, "de": SENTENCES_DE}, keywords=KEYWORDS, handlers={"GetPointsBalance": balance})
