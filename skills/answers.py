"""Yes and no: the customer's answers to the speaker's own questions ("Did you want me to call a
colleague?", nlu/guard.py's ask-back).

They are `answers`: recognised only in a turn that listens for them (the ask-back, or a skill's
intent filter), never as a request of their own, so a stray "no" or "sure" in the shop is no
intent and no false accept. Reached through a skill's filter, they just acknowledge."""

from __future__ import annotations

from skills.api import Reply, Skill, SkillContext, text

SENTENCES_EN = """
[Affirm]
(yes | yeah | yep | sure | correct | right | that's right | exactly | please do | go ahead) [please | thanks | thank you]

[Deny]
(no | nope | no thanks | no thank you | please don't | never mind | cancel [that | it] | not now | that's wrong) [please | thanks]
"""

SENTENCES_DE = """
[Affirm]
(ja | genau | richtig | gerne | ja bitte | ja genau | ja gerne | bitte ja | das stimmt)

[Deny]
(nein | nein danke | lieber nicht | nicht nötig | abbrechen | falsch | das ist falsch)
"""

OKAY = {"en": "Okay.", "de": "In Ordnung."}


async def acknowledge(ctx: SkillContext) -> Reply:
    return Reply(text(ctx, OKAY))


SKILL = Skill(
    name="answers",
    sentences={"en": SENTENCES_EN, "de": SENTENCES_DE},
    handlers={"Affirm": acknowledge, "Deny": acknowledge},
    answers=frozenset({"Affirm", "Deny"}),
)
