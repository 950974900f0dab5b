"""Text from someone else's recogniser (Hermes `nlu/query` over a real Mosquitto): read as
customers word it (`Matcher.match_text`), and published only as the effect guard allows, with
Rhasspy's `intentNotRecognized` for the rest."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.voice.nlu.guard import Verdict
from gateway.voice.settings import VoiceSettings
from gateway.voice.skillset import build_intent_model
from gateway.voice.text_requests import ANSWER_WITHIN_S, PendingQuestions, read_text
from tests.support.gateway import gateway_settings, running_gateway
from tests.support.mosquitto import Mosquitto
from tests.voice.support import HermesClient

# Only the skills' key words read it (no sentence has "need ... here"): 0.8 at most, below the
# effectful threshold 0.9.
KEYWORDS_ONLY_STAFF_CALL = "i need a colleague here"


async def test_nlu_query_reads_text_as_customers_word_it_and_keeps_the_effect_guard(broker: Mosquitto, tmp_path: Path) -> None:
    client = HermesClient(broker.host, broker.port)
    ask, on = client.send, client.json_on
    try:
        settings = gateway_settings(broker, tmp_path)
        assert settings.voice.guard.effectful_min_confidence > 0.8, "a key-word reading (0.8 at most) is below it"
        async with running_gateway(settings, timeout=30):
            queries = {
                "q1": ("could you tell me where the eggs are please", None),
                "q2": ("sorry, could you tell me where the eggs are, thanks", None),  # no sentence whole: the wrappers go
                "q3": ("forget it", None),  # near "forget me": not erasure, not anything
                "q4": (KEYWORDS_ONLY_STAFF_CALL, None),  # an effectful intent not sure enough: not published
                "q5": ("call a colleague", None),  # the whole sentence: sure, published
                "q6": ("hi, where are the eggs, thank you", ["GetOpeningHours"]),  # outside the asker's filter
                "q7": ("bread aisle", None),  # no sentence: the key words of an ordinary intent, sure enough
            }
            for request_id, (text, intent_filter) in queries.items():
                body: dict[str, object] = {"input": text, "id": request_id, "siteId": "ext"}
                if intent_filter is not None:
                    body["intentFilter"] = intent_filter
                await asyncio.to_thread(ask, "hermes/nlu/query", body)
            for request_id in ("q1", "q2"):
                intent = await asyncio.to_thread(on, "hermes/intent/WhereIsProduct", 10.0, id=request_id)
                assert [(s["slotName"], s["value"]["value"]) for s in intent["slots"]] == [("product", "eggs")], intent
                assert intent["siteId"] == "ext" and intent["intent"]["confidenceScore"] == 1.0
            for request_id in ("q3", "q4", "q6"):
                rejected = await asyncio.to_thread(on, "hermes/nlu/intentNotRecognized", 10.0, id=request_id)
                assert rejected["input"] == queries[request_id][0]
            by_key_words = await asyncio.to_thread(on, "hermes/intent/WhereIsProduct", 10.0, id="q7")
            assert [s["value"]["value"] for s in by_key_words["slots"]] == ["bread"]
            assert 0.65 <= by_key_words["intent"]["confidenceScore"] < 1.0, "a key-word reading is less sure than a sentence"
            called = await asyncio.to_thread(on, "hermes/intent/CallStaff", 10.0, id="q5")
            # Every query has had its answer by now: none of the rejected ones was also published.
            with client._lock:
                published = {json.loads(m.payload).get("id") for m in client.messages if m.topic.startswith("hermes/intent/")}
            assert published == {"q1", "q2", "q5", "q7"}
            assert called["intent"]["confidenceScore"] == 1.0
    finally:
        client.close()


SETTINGS = VoiceSettings()


@pytest.mark.parametrize("lang, text, intent, verdict", [
    ("en", "sorry, could you tell me where the eggs are, thanks", "WhereIsProduct", Verdict.ACT),
    ("en", KEYWORDS_ONLY_STAFF_CALL, "CallStaff", Verdict.ASK_BACK),
    ("en", "forget it", None, Verdict.REJECT),
    ("de", "können sie mir sagen wo die eier sind", "WhereIsProduct", Verdict.ACT),
])
def test_read_text_judges_what_match_text_found(lang: str, text: str, intent: str | None, verdict: Verdict) -> None:
    matcher = build_intent_model(SETTINGS, lang)[0].matcher
    reading = read_text(matcher, text, None, SETTINGS.guard)
    assert (reading.match.intent if reading.match else None, reading.verdict) == (intent, verdict), reading
    assert (reading.acted_on is not None) == (verdict is Verdict.ACT)


def test_a_question_asked_back_is_answered_once_and_in_time() -> None:
    now = [0.0]
    pending = PendingQuestions(clock=lambda: now[0])
    pending.remember("a", ("CallStaff", "Affirm", "Deny"))
    pending.remember("b", ("ForgetMe", "Affirm", "Deny"))
    assert pending.answering("a") == ("CallStaff", "Affirm", "Deny")
    assert pending.answering("a") == (), "answered once"
    assert pending.answering("nobody asked") == () and pending.answering(None) == ()
    now[0] = ANSWER_WITHIN_S + 1
    assert pending.answering("b") == (), "too late"


EN = build_intent_model(SETTINGS, "en")[0].matcher
_WORDS = sorted(EN.keywords.vocabulary) if EN.keywords is not None else []


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(st.sampled_from(_WORDS) | st.text(max_size=12), max_size=14),
    allowed=st.none() | st.lists(st.sampled_from(EN.intents), min_size=1, max_size=4, unique=True),
)
def test_no_text_passes_an_effectful_intent_below_its_threshold_or_outside_the_filter(
    words: list[str], allowed: list[str] | None
) -> None:
    """Random strings of the sentences' own words (the likeliest to fool the key words) and junk:
    whatever is acted on is sure enough for its kind and allowed by the asker's filter."""
    reading = read_text(EN, " ".join(words), allowed, SETTINGS.guard)
    acted = reading.acted_on
    if acted is None:
        return
    policy = SETTINGS.guard.policy(EN.effectful)
    assert acted.confidence >= policy.threshold(acted.intent), reading
    assert acted.intent in allowed if allowed is not None else acted.intent not in EN.answers
