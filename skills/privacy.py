"""Privacy: "forget me" (erasure, through the consent part) and "what do you know about me".

"Forget me" is irreversible, and a misheard word must never erase anyone: the handler first asks
("This erases everything we keep about you, including your 1,250 points. Say 'yes, delete' to
confirm") and erases only when the voice part runs it again confirmed, after a clear "yes,
delete" from the same customer in the same session (gateway/voice/confirm.py)."""

from __future__ import annotations

from skills.api import Reply, Skill, SkillContext, text

SENTENCES_EN = """
[ForgetMe]
forget (me | about me)
(delete | erase | remove) (my data | everything you know about me)

[ConfirmErase]
yes [please] (delete | erase) [it | everything | my data]
yes [please] delete [it | everything | my data]

[WhatDoYouKnow]
what do you know about me
what (data | information) do you (have | store | keep) about me
"""

TAP = {"en": "Please tap your loyalty card on the reader first, so I know who you are."}
FORGOTTEN = {"en": "Done. I have erased everything stored about you here ({rows} records)."}
KNOWN = {"en": "I keep {events} events about you{attributes}. Your consents: {consents}."}
UNAVAILABLE = {"en": "I cannot erase data from here. A colleague can do it for you at the till."}
NOTHING = {"en": "I keep no data about you."}
CONFIRM = {"en": "This erases everything we keep about you{points}. Say 'yes, delete' to confirm."}
POINTS = {"en": ", including your {points:,} points"}
NOTHING_TO_CONFIRM = {"en": "There is nothing to confirm."}
CONFIRM_INTENT = "ConfirmErase"


async def forget(ctx: SkillContext) -> Reply:
    if ctx.customer is None:
        return Reply(text(ctx, TAP))
    if not ctx.confirmed:
        summary = await ctx.privacy.describe(ctx.customer.id)
        points = text(ctx, POINTS, points=summary.loyalty_points) if summary.loyalty_points else ""
        return Reply(text(ctx, CONFIRM, points=points), confirm=CONFIRM_INTENT)
    rows = await ctx.privacy.forget(ctx.customer.id)
    if rows is None:
        return Reply(text(ctx, UNAVAILABLE))
    return Reply(text(ctx, FORGOTTEN, rows=rows))


async def what_do_you_know(ctx: SkillContext) -> Reply:
    if ctx.customer is None:
        return Reply(text(ctx, TAP))
    summary = await ctx.privacy.describe(ctx.customer.id)
    if not summary.events and not summary.profile_attributes and not summary.consents:
        return Reply(text(ctx, NOTHING))
    attributes = f", and a profile with {', '.join(a.replace('_', ' ') for a in summary.profile_attributes)}" if summary.profile_attributes else ""
    consents = ", ".join(f"{p} {s}" for p, s in sorted(summary.consents.items())) or "none"
    return Reply(text(ctx, KNOWN, events=summary.events, attributes=attributes, consents=consents))


async def confirm_outside_question(ctx: SkillContext) -> Reply:
    """"Yes, delete" heard when no question waits for it (the voice part handles the awaited
    one itself): it confirms nothing."""
    return Reply(text(ctx, NOTHING_TO_CONFIRM))


SKILL = Skill(
    name="privacy",
    sentences={"en": SENTENCES_EN},
    handlers={"ForgetMe": forget, "WhatDoYouKnow": what_do_you_know, CONFIRM_INTENT: confirm_outside_question},
    confirmed=frozenset({"ForgetMe"}),
)
