"""Help: what the speaker can do."""

from __future__ import annotations

from skills.api import Reply, Skill, SkillContext, text

SENTENCES_EN = """
[Help]
help [me]
what can you do
what can i ask [you]
"""

SENTENCES_DE = """
[Help]
hilfe
was kannst du
"""

HELP = {
    "en": "You can ask me where a product is, when we are open, about today's offers, your loyalty points, "
    "or to call a colleague. Say forget me to erase your data.",
    "de": "Fragen Sie mich, wo ein Produkt ist, wann wir geöffnet haben, oder ob ich einen Kollegen rufen soll.",
}


async def help_(ctx: SkillContext) -> Reply:
    return Reply(text(ctx, HELP))


SKILL = Skill(name="help", sentences={"en": SENTENCES_EN, "de": SENTENCES_DE}, handlers={"Help": help_})
