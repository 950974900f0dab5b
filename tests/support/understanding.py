"""Typed text through the gateway's understanding and effect guard, as Hermes `nlu/query` and
the Wyoming `transcript` reach it: what the text-coverage tests judge. The intent models are
built once per test process (they compile every skill's sentences and key words)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from gateway.voice.effects import EffectGuard
from gateway.voice.nlu.match import Matcher
from gateway.voice.settings import VoiceSettings
from gateway.voice.skillset import build_intent_model

SETTINGS = VoiceSettings()


@cache
def matcher(lang: str) -> Matcher:
    return build_intent_model(SETTINGS, lang)[0].matcher


@dataclass(frozen=True)
class Judged:
    intent: str | None  # the intent acted on, or None
    slots: dict[str, str]
    asked: bool  # the guard asked back instead of acting


def judged(lang: str, text: str) -> Judged:
    m = matcher(lang)
    acted, ask = EffectGuard(SETTINGS.guard).check("s", lang, m.match_text(text, None, SETTINGS.guard.max_skips), m)
    slots = {s.name: str(s.value) for s in acted.slots} if acted is not None else {}
    return Judged(acted.intent if acted is not None else None, slots, ask is not None)
