"""Rejection and effect guards: whether a recognised intent is acted on, asked back, or rejected.

Every intent has a confidence threshold (the default, or its own); intents that change
something (skills declare them `effectful`: calling staff, erasure, spending points) need the
higher effectful threshold. Below its threshold an ordinary intent is rejected (the customer
hears what the speaker can help with); an effectful one that would pass the ordinary threshold
is asked back instead of acted on: the customer repeats it, and the repeat, recognised again,
confirms it (`confirms`). A confirmation dialogue ("say yes, delete") plugs in at the same point:
it replaces `confirms`. Slot values must be values of their lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from gateway.voice.nlu.ast import SlotValue
from gateway.voice.nlu.match import IntentMatch


class Verdict(StrEnum):
    ACT = "act"
    ASK_BACK = "ask_back"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    min_confidence: float = 0.65
    effectful_min_confidence: float = 0.9
    per_intent: Mapping[str, float] = field(default_factory=dict)
    effectful: frozenset[str] = frozenset()

    def threshold(self, intent: str) -> float:
        if intent in self.per_intent:
            return self.per_intent[intent]
        return self.effectful_min_confidence if intent in self.effectful else self.min_confidence


@dataclass(frozen=True, slots=True)
class PassPolicy:
    """How the recogniser's two passes are read (understand.match_transcript): words of the open
    pass a sentence may leave unexplained, and how sure an intent is that only one pass found
    or that the passes disagree on."""

    max_skips: int = 2
    open_only_factor: float = 0.5
    grammar_only_factor: float = 1.0
    disagreement_factor: float = 0.5
    # An effectful intent only one pass found is at most this sure: below the effectful
    # threshold (0.9), so it is asked back, never acted on.
    effectful_one_pass_cap: float = 0.85
    # With the calibrated decision too (engines/decision.py): an effectful intent needs both
    # passes, whatever its probability.
    effectful_needs_both: bool = True
    # An effectful intent only one pass found, from this probability up, is asked back rather
    # than rejected (raised to `ask_level`, the guard's min_confidence); None: rejected below
    # min_confidence as any intent. Why 0.5: voice.guard.effectful_one_pass_ask_floor.
    effectful_one_pass_ask_floor: float | None = 0.5
    ask_level: float = 0.65


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    threshold: float
    reason: str


def judge(match: IntentMatch, policy: GuardPolicy, lists: Mapping[str, list[SlotValue]]) -> Judgement:
    threshold = policy.threshold(match.intent)
    for slot in match.slots:
        allowed = lists.get(slot.list_name, ())
        if not any(v.value == slot.value for v in allowed if v.value is not None) and not any(v.value is None for v in allowed):
            return Judgement(Verdict.REJECT, threshold, f"slot {slot.name}={slot.value!r} is not in list {slot.list_name}")
    if match.confidence >= threshold:
        return Judgement(Verdict.ACT, threshold, "sure enough")
    if match.intent in policy.effectful and match.confidence >= policy.min_confidence:
        return Judgement(Verdict.ASK_BACK, threshold, f"effectful intent at {match.confidence:.2f} < {threshold:.2f}")
    return Judgement(Verdict.REJECT, threshold, f"confidence {match.confidence:.2f} < {threshold:.2f}")


def confirms(asked: IntentMatch, again: IntentMatch, policy: GuardPolicy) -> bool:
    """The customer, asked back, repeated the same effectful intent (with the same slots) and it
    was recognised again above the ordinary threshold: two independent recognitions agree."""
    same_slots = {(s.name, s.value) for s in asked.slots} == {(s.name, s.value) for s in again.slots}
    return again.intent == asked.intent and same_slots and again.confidence >= policy.min_confidence
