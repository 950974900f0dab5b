"""The ask-back floor for effectful intents only one of PocketSphinx's passes heard
(voice.guard.effectful_one_pass_ask_floor): below it rejected, from it up to the effectful
threshold asked back, never acted on from one pass however sure the model is; what both passes
heard is judged as before. A model of constant probability makes each band exact."""

from __future__ import annotations

import math

import pytest

from gateway.voice.effects import EffectGuard
from gateway.voice.engines.base import Transcript
from gateway.voice.engines.decision import DecisionModel
from gateway.voice.nlu.match import IntentMatch
from gateway.voice.settings import GuardSettings, VoiceSettings
from gateway.voice.skillset import build_intent_model
from gateway.voice.understand import match_transcript

MATCHER = build_intent_model(VoiceSettings())[0].matcher
FLOOR = 0.4
GUARD = GuardSettings(effectful_one_pass_ask_floor=FLOOR)


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def sure(p: float) -> DecisionModel:
    """Every candidate is right with probability p."""
    return DecisionModel(version=1, recipe="test", features=("both",), means=(0.0,), scales=(1.0,), weights=(0.0,), intercept=logit(p))


def heard(grammar: str, open_text: str) -> Transcript:
    fallback = Transcript(open_text, 1.0, 2.0, 0.0, dictation=True, phone_gap=1.0) if open_text else None
    return Transcript(grammar, 1.0 if grammar else 0.0, 2.0, 0.0, fallback=fallback, grammar_pass=True, phone_gap=2.0, snr_db=40.0)


def outcome(transcript: Transcript, p: float, guard: GuardSettings = GUARD) -> tuple[IntentMatch | None, str]:
    match = match_transcript(MATCHER, transcript, None, 0.0, guard.passes(), sure(p))
    acted, reply = EffectGuard(guard).check("s", "en", match, MATCHER)
    verdict = "act" if acted is not None else "ask" if reply is not None else "reject"
    return match, verdict


GRAMMAR_ONLY = heard("call a staff member", "")  # the committed en_staff_1: only the grammar pass heard it
OPEN_ONLY = heard("", "delete my data")
DISAGREE = heard("call a staff member", "where is the milk")  # another intent in the other pass


@pytest.mark.parametrize("transcript", [GRAMMAR_ONLY, OPEN_ONLY], ids=["grammar pass", "open pass"])
@pytest.mark.parametrize("p, verdict", [(0.2, "reject"), (0.39, "reject"), (0.4, "ask"), (0.55, "ask"), (0.7, "ask"), (0.95, "ask"), (0.999, "ask")])
def test_one_pass_effectful_bands(transcript: Transcript, p: float, verdict: str) -> None:
    match, got = outcome(transcript, p)
    assert match is not None and match.intent in MATCHER.effectful
    assert got == verdict, (p, match)


def test_the_floor_lifts_into_the_ask_band_only_and_the_likeliest_reading_still_wins() -> None:
    match, verdict = outcome(GRAMMAR_ONLY, 0.5)
    assert verdict == "ask" and match is not None and match.confidence == GUARD.min_confidence
    # The grammar pass's CallStaff at 0.45, the open pass's WhereIsProduct at 0.6: the likelier
    # reading is the answer (rejected, below min_confidence); the lift does not make CallStaff win.
    model = DecisionModel(version=1, recipe="test", features=("open_only",), means=(0.0,), scales=(1.0,),
                          weights=(logit(0.6) - logit(0.45),), intercept=logit(0.45))
    match = match_transcript(MATCHER, DISAGREE, None, 0.0, GUARD.passes(), model)
    assert match is not None and match.intent == "WhereIsProduct" and match.confidence == pytest.approx(0.6, abs=1e-3)


@pytest.mark.parametrize("p, verdict", [(0.5, "reject"), (0.7, "ask"), (0.95, "act")])
def test_what_both_passes_heard_is_judged_as_before(p: float, verdict: str) -> None:
    assert outcome(heard("call a staff member", "call a staff member"), p)[1] == verdict


def test_without_a_floor_one_pass_below_min_confidence_is_rejected() -> None:
    assert outcome(GRAMMAR_ONLY, 0.5, GuardSettings(effectful_one_pass_ask_floor=None))[1] == "reject"
    assert outcome(GRAMMAR_ONLY, 0.7, GuardSettings(effectful_one_pass_ask_floor=None))[1] == "ask"


def test_ordinary_intents_are_not_lifted() -> None:
    match, verdict = outcome(heard("where is the milk", ""), 0.5)
    assert match is not None and match.intent == "WhereIsProduct" and match.confidence == 0.5 and verdict == "reject"


@pytest.mark.parametrize("floor", [0.0, 0.3, 0.64])
def test_never_acted_on_from_one_pass_whatever_the_floor(floor: float) -> None:
    guard = GuardSettings(effectful_one_pass_ask_floor=floor)
    for p in (0.01, 0.5, 0.9, 0.9999):
        assert outcome(GRAMMAR_ONLY, p, guard)[1] != "act"
        assert outcome(OPEN_ONLY, p, guard)[1] != "act"


def test_the_default_floor_is_an_ask_back_floor() -> None:
    """The shipped setting lies below min_confidence (else it would change nothing)."""
    guard = GuardSettings()
    assert guard.effectful_one_pass_ask_floor is not None and guard.effectful_one_pass_ask_floor < guard.min_confidence
