"""Call a staff member: a notification to the staff pagers, and a word to the customer."""

from __future__ import annotations

from skills.api import Notify, Reply, Skill, SkillContext, text

SENTENCES_EN = """
[CallStaff]
(call | get) [a | an] (staff member | assistant | employee | colleague)
i need [some] help from [a] (staff member | colleague)
can (someone | somebody) help me
"""

SENTENCES_DE = """
[CallStaff]
(rufen sie | ruf) [einen | eine] (mitarbeiter | mitarbeiterin | verkäufer | verkäuferin)
ich brauche hilfe [von einem mitarbeiter]
kann mir jemand helfen
"""

COMING = {"en": "A colleague is on the way.", "de": "Ein Kollege ist unterwegs."}


async def call_staff(ctx: SkillContext) -> Reply:
    # No customer id and no transcript in the notification: staff need the place, not the person.
    payload = {"kind": "staff_call", "siteId": ctx.session.site_id, "reason": "customer asked at speaker", "at": ctx.now.timestamp()}
    return Reply(text(ctx, COMING), notify=(Notify("staff", payload),))


SKILL = Skill(name="staff", sentences={"en": SENTENCES_EN, "de": SENTENCES_DE}, handlers={"CallStaff": call_staff})
