"""The effect guard (nlu/guard.py, effects.py) and fuzzy matching (Matcher.match(max_skips)):
rules, and properties over generated confidences and inserted words."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.voice.effects import ASK_BACK, DECLINED, EffectGuard
from gateway.voice.nlu.guard import GuardPolicy, Verdict, judge
from gateway.voice.nlu.match import IntentMatch
from gateway.voice.settings import GuardSettings, VoiceSettings
from gateway.voice.skillset import build_intent_model

MODEL, _ = build_intent_model(VoiceSettings(), "en")
MATCHER = MODEL.matcher
POLICY = GuardSettings().policy(MATCHER.effectful)


def _match(text: str, confidence: float = 1.0) -> IntentMatch:
    found = MATCHER.match(text)
    assert found is not None, text
    return dataclasses.replace(found, confidence=confidence)


@settings(deadline=None)
@given(st.floats(0, 1))
def test_an_effectful_intent_below_its_threshold_never_acts(confidence: float) -> None:
    verdict = judge(_match("delete my data", confidence), POLICY, MATCHER.lists).verdict
    if confidence >= 0.9:
        assert verdict is Verdict.ACT
    elif confidence >= 0.65:
        assert verdict is Verdict.ASK_BACK
    else:
        assert verdict is Verdict.REJECT


@settings(deadline=None)
@given(st.floats(0, 1))
def test_an_ordinary_intent_acts_or_is_rejected_never_asked_back(confidence: float) -> None:
    verdict = judge(_match("what are your opening hours", confidence), POLICY, MATCHER.lists).verdict
    assert verdict is (Verdict.ACT if confidence >= 0.65 else Verdict.REJECT)


def test_a_slot_value_outside_its_list_is_rejected() -> None:
    found = _match("where is the milk")
    forged = dataclasses.replace(found, slots=(dataclasses.replace(found.slots[0], value="plutonium"),))
    assert judge(forged, POLICY, MATCHER.lists).verdict is Verdict.REJECT


def test_per_intent_threshold() -> None:
    strict = GuardPolicy(per_intent={"GetOpeningHours": 0.99}, effectful=MATCHER.effectful)
    assert judge(_match("what are your opening hours", 0.95), strict, MATCHER.lists).verdict is Verdict.REJECT


def test_ask_back_then_the_same_request_acts_and_another_does_not() -> None:
    guard = EffectGuard(GuardSettings())
    acted, ask = guard.check("s1", "de", _match("call a staff member", 0.7), MATCHER)
    assert acted is None and ask is not None and ask.say == ASK_BACK["CallStaff"]["de"] and not ask.end_session
    acted, ask = guard.check("s1", "de", _match("can someone help me", 0.7), MATCHER)
    assert acted is not None and acted.intent == "CallStaff" and ask is None  # the repeat confirms
    guard.check("s2", "en", _match("delete my data", 0.7), MATCHER)
    acted, _ = guard.check("s2", "en", _match("what are your opening hours", 1.0), MATCHER)
    assert acted is not None and acted.intent == "GetOpeningHours"  # a new request, handled as such
    acted, ask = guard.check("s2", "en", _match("delete my data", 0.7), MATCHER)
    assert acted is None and ask is not None  # the confirmation was spent: asked back again
    guard.forget("s2")
    acted, ask = guard.check("s3", "en", _match("delete my data", 0.7), MATCHER)
    assert acted is None and ask is not None  # another session's request never confirms


def _answer(text: str, confidence: float = 1.0) -> IntentMatch:
    found = MATCHER.match(text, MATCHER.intents)
    assert found is not None, text
    return dataclasses.replace(found, confidence=confidence)


def test_ask_back_then_yes_acts_on_what_was_asked_and_no_on_nothing() -> None:
    guard = EffectGuard(GuardSettings())
    _, ask = guard.check("s1", "en", _match("call a staff member", 0.7), MATCHER)
    assert ask is not None and ask.intent_filter is not None and set(ask.intent_filter) == {"CallStaff", "Affirm", "Deny"}
    acted, instead = guard.check("s1", "en", _answer("yes please"), MATCHER)
    assert acted is not None and acted.intent == "CallStaff" and instead is None
    guard.check("s2", "en", _match("delete my data", 0.7), MATCHER)
    acted, instead = guard.check("s2", "en", _answer("no thanks"), MATCHER)
    assert acted is None and instead is not None and instead.end_session and instead.say == DECLINED["en"]
    acted, instead = guard.check("s3", "en", _answer("yes"), MATCHER)  # a yes nobody asked for changes nothing
    assert acted is not None and acted.intent == "Affirm" and "Affirm" not in MATCHER.effectful


def test_yes_and_no_are_no_requests_of_their_own() -> None:
    for answer in ("yes", "yes please", "no", "never mind", "sure"):
        assert MATCHER.match(answer) is None, answer
        assert MATCHER.match(answer, MATCHER.intents) is not None, answer


# Words that appear in no sentence: what the open pass may add around a request.
JUNK = st.lists(st.sampled_from(["violin", "paris", "grandmother", "umbrella", "tractor"]), min_size=1, max_size=4)
REQUESTS = st.sampled_from(["where is the milk", "what are your opening hours", "delete my data", "what can you do", "call a staff member"])


@settings(deadline=None)
@given(REQUESTS, JUNK, st.data())
def test_fuzzy_matching_skips_at_most_max_skips_words(request: str, junk: list[str], data: st.DataObject) -> None:
    words = request.split()
    for word in junk:
        words.insert(data.draw(st.integers(0, len(words))), word)
    exact = MATCHER.match(request)
    assert exact is not None
    fuzzy = MATCHER.match(" ".join(words), None, max_skips=2)
    if len(junk) > 2:
        assert fuzzy is None
        return
    assert fuzzy is not None and fuzzy.intent == exact.intent
    assert {(s.name, s.value) for s in fuzzy.slots} == {(s.name, s.value) for s in exact.slots}
    assert fuzzy.confidence == round(1 - len(junk) / len(words), 4)
    assert MATCHER.match(" ".join(words)) is None  # exact matching explains every word or nothing


def test_a_slot_value_is_heard_whole_never_with_words_skipped_inside() -> None:
    assert MATCHER.match("where can i find oat milk", None, 2) is not None
    found = MATCHER.match("where can i find oat violin milk", None, 2)
    assert found is None or all(s.raw != "oat violin milk" for s in found.slots)


def test_a_fragment_never_grows_into_a_sentence() -> None:
    """Skipping removes heard words; it never invents the words a template needs."""
    found = MATCHER.match("delete my", None, 2)
    assert found is None or found.intent != "ForgetMe"
