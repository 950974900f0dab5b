"""How the grammar pass and the open pass check each other (understand.match_transcript) and
what the guard then does with the result: the rules, and properties over any confidences."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.voice.effects import EffectGuard
from gateway.voice.engines.base import Transcript
from gateway.voice.nlu.guard import PassPolicy
from gateway.voice.settings import GuardSettings, VoiceSettings
from gateway.voice.skillset import build_intent_model
from gateway.voice.understand import match_transcript

MODEL, _ = build_intent_model(VoiceSettings(), "en")
MATCHER = MODEL.matcher
POLICY = GuardSettings().passes()


def heard(grammar: str, grammar_confidence: float, open_text: str, open_confidence: float) -> Transcript:
    fallback = Transcript(open_text, open_confidence, 1.0, 0.0, dictation=True)
    return Transcript(grammar, grammar_confidence, 1.0, 0.0, fallback=fallback, grammar_pass=True)


def test_agreeing_passes_keep_the_grammar_sentence_and_the_surer_confidence() -> None:
    match = match_transcript(MATCHER, heard("where is the milk", 0.2, "where is an milk", 0.9), None, 0.01, POLICY)
    assert match is not None and match.intent == "WhereIsProduct"
    assert match.text == "where is the milk" and match.confidence == 0.9


def test_disagreeing_passes_count_half() -> None:
    match = match_transcript(MATCHER, heard("where is the milk", 1.0, "where is the bread", 1.0), None, 0.01, POLICY)
    assert match is not None and match.confidence == 0.5  # below every threshold: rejected


def test_an_effectful_intent_from_the_grammar_pass_alone_is_asked_back() -> None:
    match = match_transcript(MATCHER, heard("delete my data", 1.0, "violin", 1.0), None, 0.01, POLICY)
    assert match is not None and match.intent == "ForgetMe" and match.confidence == 0.85
    acted, ask = EffectGuard(GuardSettings()).check("s", "en", match, MATCHER)
    assert acted is None and ask is not None


def test_one_pass_alone() -> None:
    only_open = match_transcript(MATCHER, heard("the weather is", 1.0, "what are your opening hours", 1.0), None, 0.01, POLICY)
    assert only_open is not None and only_open.intent == "GetOpeningHours" and only_open.confidence == 0.5
    only_grammar = match_transcript(MATCHER, heard("what are your opening hours", 0.8, "violin", 1.0), None, 0.01, POLICY)
    assert only_grammar is not None and only_grammar.confidence == 0.8


def test_without_a_grammar_pass_the_open_pass_stands_alone() -> None:
    transcript = Transcript("", 0.0, 1.0, 0.0, fallback=Transcript("what are your opening hours", 0.9, 1.0, 0.0, dictation=True))
    match = match_transcript(MATCHER, transcript, None, 0.01, POLICY)
    assert match is not None and match.confidence == 0.9


SENTENCES = st.sampled_from(
    ["call a staff member", "delete my data", "forget me", "where is the milk", "what are your opening hours", "can someone help me",
     "the weather is lovely", "", "please delete all my data", "i need help from a colleague"]
)


@settings(deadline=None)
@given(SENTENCES, st.floats(0, 1), SENTENCES, st.floats(0, 1))
def test_an_effectful_intent_acts_only_when_both_passes_agree(
    grammar: str, grammar_confidence: float, open_text: str, open_confidence: float
) -> None:
    """A misheard erasure must never act: from one pass alone, or against the other pass, an
    effectful intent is at most asked back."""
    transcript = heard(grammar, grammar_confidence, open_text, open_confidence)
    match = match_transcript(MATCHER, transcript, None, 0.01, POLICY)
    acted, _ = EffectGuard(GuardSettings()).check("s", "en", match, MATCHER)
    if acted is None or acted.intent not in MATCHER.effectful:
        return
    from_grammar = MATCHER.match(grammar)
    from_open = MATCHER.match(open_text, None, POLICY.max_skips)
    assert from_grammar is not None and from_grammar.intent == acted.intent
    assert from_open is not None and from_open.intent == acted.intent


def test_policy_defaults_follow_the_settings() -> None:
    assert POLICY == PassPolicy()
