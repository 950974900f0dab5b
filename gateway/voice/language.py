"""What the voice part needs for one language: recogniser, intent matcher, skills. Sites speak
the language `voice.sites.<siteId>.language` (or `voice.language`) gives them."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.voice.engines.base import AsrEngine
from gateway.voice.nlu.match import Matcher
from gateway.voice.skillrunner import SkillRunner


@dataclass(frozen=True, slots=True)
class LanguageKit:
    language: str
    engine: AsrEngine
    matcher: Matcher
    skills: SkillRunner
    dictation: bool  # decode off-grammar speech again with open dictation
