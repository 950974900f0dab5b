"""Text the sentences do not parse: polite wrappers, the skills' key words (nlu/keywords.py).

Measured against tests/data/voice_tuning/blind2.yaml, written blind to the sentences and key
words by another engineer (read afterwards, so it is tuning data now; the held-out corpus's test
split stays the measure, bench/voice.py `heldout_text`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.voice.effects import EffectGuard
from gateway.voice.nlu.guard import GuardPolicy
from gateway.voice.nlu.keywords import CEILING, NEUTRAL, TEMPLATE_NAME, KeywordError, parse_rule
from gateway.voice.settings import VoiceSettings
from gateway.voice.skillset import build_intent_model

BLIND2 = Path(__file__).parents[1] / "data" / "voice_tuning" / "blind2.yaml"
BLIND3 = Path(__file__).parents[1] / "data" / "voice_tuning" / "blind3.yaml"
SETTINGS = VoiceSettings()
MODELS = {lang: build_intent_model(SETTINGS, lang)[0] for lang in ("en", "de")}


def _acted(lang: str, text: str) -> str | None:
    matcher = MODELS[lang].matcher
    acted, _ = EffectGuard(SETTINGS.guard).check("s", lang, matcher.match_text(text, None, SETTINGS.guard.max_skips), matcher)
    return acted.intent if acted is not None else None


@pytest.mark.parametrize("corpus, lang, floor", [(BLIND2, "en", 0.88), (BLIND2, "de", 0.87), (BLIND3, "en", 0.85), (BLIND3, "de", 0.85)])
def test_text_understanding_on_a_corpus_written_blind(corpus: Path, lang: str, floor: float) -> None:
    """Accuracy (off-topic right when nothing is acted on) and false accepts on the blind tuning
    sets: floors under today's figures (blind2 en 0.92, de 0.90; blind3 en 0.88, de 0.88; false
    accepts at most 1.5 %), so a change that loses generality fails here; no wrong effectful
    intent is ever acted on."""
    items = [u for u in yaml.safe_load(corpus.read_text(encoding="utf-8"))["utterances"] if u["lang"] == lang]
    effectful = MODELS[lang].matcher.effectful
    got = [(u.get("intent"), _acted(lang, u["text"])) for u in items]
    off_topic = [g for want, g in got if want is None]
    assert sum(want == g for want, g in got) / len(got) >= floor
    assert sum(g is not None for g in off_topic) / len(off_topic) <= 0.03
    assert not [(want, g) for want, g in got if g in effectful and g != want]


@pytest.mark.parametrize(
    "lang, text, expected",
    [
        ("en", "sorry, could you tell me where the milk is, thanks", "WhereIsProduct"),
        ("en", "any coupons going this week", "GetOffers"),
        ("en", "is my data shared with anyone", "WhatDoYouKnow"),
        ("en", "do you stock colgate", "WhereIsProduct"),  # a written-only catalogue name (brand)
        ("de", "sag mal, wie lange habt ihr am samstag offen", "GetOpeningHours"),
        ("de", "weißt du ob es rabatte gibt", "GetOffers"),
    ],
)
def test_wordings_no_sentence_has_are_understood(lang: str, text: str, expected: str) -> None:
    assert _acted(lang, text) == expected


@pytest.mark.parametrize(
    "lang, text",
    [
        ("en", "forget it"), ("en", "call a taxi"), ("en", "I forgot my bag"), ("en", "call my wife please"),
        ("en", "never mind, forget about it"), ("en", "is the pharmacy next door open"), ("en", "how much is the milk"),
        ("de", "vergiss es"), ("de", "ruf mir ein taxi"), ("de", "ich habe meine tasche vergessen"), ("de", "lösch das lied"),
        ("de", "wann schließt der aldi"), ("de", "die verkäuferin war sehr nett"),
    ],
)
def test_near_misses_are_no_request(lang: str, text: str) -> None:
    assert _acted(lang, text) is None


def test_an_effectful_request_heard_only_in_key_words_is_asked_back() -> None:
    matcher = MODELS["en"].matcher
    match = matcher.match_text("could you bring a manager over")
    assert match is not None and match.intent == "CallStaff" and match.template == TEMPLATE_NAME
    acted, reply = EffectGuard(SETTINGS.guard).check("s", "en", match, matcher)
    assert acted is None and reply is not None and reply.intent_filter == ("CallStaff", "Affirm", "Deny")


def test_a_bad_key_word_rule_is_refused() -> None:
    with pytest.raises(KeywordError, match="skills.x"):
        parse_rule("CallStaff", "staff|| + call", "skills.x")


_WORDS = {lang: sorted(MODELS[lang].matcher.keywords.vocabulary | {"taxi", "bag", "wife", "pharmacy", "post"}) for lang in MODELS}  # type: ignore[union-attr]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["en", "de"]).flatmap(lambda lang: st.tuples(st.just(lang), st.lists(st.sampled_from(_WORDS[lang]), min_size=1, max_size=8))))
def test_key_words_never_reach_acting_confidence_for_an_effectful_intent(case: tuple[str, list[str]]) -> None:
    """Whatever words are strung together, an intent from the key words is at most CEILING
    sure, below the effectful threshold: never acted on without asking back."""
    lang, words = case
    matcher = MODELS[lang].matcher
    match = matcher.match_text(" ".join(words))
    if match is not None and match.template == TEMPLATE_NAME:
        assert match.confidence <= CEILING < GuardPolicy().effectful_min_confidence
        if match.intent in matcher.effectful:
            acted, _ = EffectGuard(SETTINGS.guard).check("s", lang, match, matcher)
            assert acted is None


def test_neutral_words_alone_are_no_request() -> None:
    for lang, words in NEUTRAL.items():
        assert MODELS[lang].matcher.match_text(" ".join(sorted(words)[:12])) is None
