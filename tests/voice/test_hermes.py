"""Hermes messages as Rhasspy sends and expects them: camelCase, defaults, topics both ways."""

from __future__ import annotations

import json

import pytest

from gateway.hermes import topics
from gateway.hermes.asr import AsrStartListening, AsrTextCaptured
from gateway.hermes.audioserver import AudioFrame
from gateway.hermes.base import HermesParseError
from gateway.hermes.dialogue import DialogueSessionEnded, DialogueStartSession, SessionInitNotification, SessionTermination, TerminationReason
from gateway.hermes.intent import Intent, NluIntent, Slot, SlotRange
from gateway.hermes.nlu import NluQuery


def test_rhasspy_payloads_parse_with_extra_fields() -> None:
    start = AsrStartListening.from_json(b'{"siteId": "kitchen", "sessionId": "s1", "stopOnSilence": true, "sendAudioCaptured": false, "wakewordId": "porcupine", "futureField": 1}')
    assert start.siteId == "kitchen" and start.wakewordId == "porcupine"
    assert NluQuery.from_json(b'{"input": "what time is it"}').siteId == "default"
    notification = DialogueStartSession.from_json(b'{"siteId": "hall", "init": {"type": "notification", "text": "hello"}}')
    assert isinstance(notification.init, SessionInitNotification)
    assert DialogueStartSession.from_json(b"{}").init.type == "action"


@pytest.mark.parametrize("payload", [b"{nope", b'{"init": {"type": "bogus"}}', b'{"siteId": "a/b"}', b"[]"])
def test_bad_payloads_raise_a_readable_error(payload: bytes) -> None:
    with pytest.raises(HermesParseError) as info:
        DialogueStartSession.from_json(payload)
    assert info.value.args[0].startswith("DialogueStartSession")


def test_intent_message_is_camel_case_on_the_wire() -> None:
    message = NluIntent(
        input="where is the milk",
        intent=Intent(intentName="WhereIsProduct", confidenceScore=1.0),
        slots=[Slot(entity="product", slotName="product", value={"kind": "Unknown", "value": "milk"}, rawValue="milk", range=SlotRange(start=13, end=17))],
        siteId="kitchen",
        sessionId="s1",
    )
    body = json.loads(message.to_json())
    assert body["intent"] == {"intentName": "WhereIsProduct", "confidenceScore": 1.0}
    assert body["slots"][0]["slotName"] == "product" and body["slots"][0]["rawValue"] == "milk"
    assert body["slots"][0]["range"]["start"] == 13
    assert message.topic() == "hermes/intent/WhereIsProduct"
    captured = AsrTextCaptured(text="hi", likelihood=0.5, seconds=1.0)
    assert json.loads(captured.to_json())["siteId"] == "default"
    ended = DialogueSessionEnded(sessionId="s", termination=SessionTermination(reason=TerminationReason.ABORTED_BY_USER))
    assert json.loads(ended.to_json())["termination"]["reason"] == "abortedByUser"


def test_topics_are_built_and_parsed_in_one_place() -> None:
    assert topics.parse_audio_frame_topic(topics.audio_frame_topic("kitchen")) == "kitchen"
    assert topics.parse_audio_frame_topic("hermes/audioServer/kitchen/playBytes/x") is None
    assert topics.parse_audio_session_frame_topic(topics.audio_session_frame_topic("k", "s1")) == ("k", "s1")
    assert topics.parse_intent_topic(topics.intent_topic("Help")) == "Help"
    assert topics.parse_intent_topic("hermes/nlu/query") is None
    assert topics.parse_hotword_detected_topic(topics.hotword_detected_topic("default")) == "default"
    assert topics.error_topic("asr") == "hermes/error/asr"
    for bad in ("a/b", "#", "", "x+y"):
        with pytest.raises(ValueError):
            topics.intent_topic(bad)
    frame = AudioFrame.from_message("hermes/audioServer/k/s1/audioSessionFrame", b"RIFF")
    assert frame is not None and frame.session_id == "s1" and frame.topic() == "hermes/audioServer/k/s1/audioSessionFrame"


def test_messages_own_their_topics() -> None:
    """As in rhasspy-hermes: a message class builds, recognises and reads its topic."""
    from gateway.hermes.dialogue import DialogueSessionEnded
    from gateway.hermes.error import HermesError
    from gateway.hermes.hotword import HotwordDetected, HotwordToggleOff, HotwordToggleOn
    from gateway.hermes.playback import AudioPlayFinished
    from gateway.hermes.tts import TtsSay

    assert TtsSay.topic() == "hermes/tts/say" and TtsSay.is_topic("hermes/tts/say") and not TtsSay.is_topic("hermes/tts/sayFinished")
    assert HermesError.topic(component="asr") == "hermes/error/asr"
    assert HermesError.topic_ids("hermes/error/nlu") == {"component": "nlu"}
    assert AudioPlayFinished(siteId="kiosk").topic() == "hermes/audioServer/kiosk/playFinished"
    assert AudioPlayFinished.subscription() == "hermes/audioServer/+/playFinished"
    assert HotwordDetected.topic_ids("hermes/hotword/hey_shop/detected") == {"wakewordId": "hey_shop"}
    assert HotwordToggleOn(siteId="k").topic() == "hermes/hotword/toggleOn" and HotwordToggleOff.topic() == "hermes/hotword/toggleOff"
    assert DialogueSessionEnded.topic() == "hermes/dialogueManager/sessionEnded"
    for bad in ("a/b", "#", "", "x+y"):
        with pytest.raises(ValueError):
            AudioPlayFinished.topic(siteId=bad)
    assert AudioPlayFinished.topic_ids("hermes/audioServer/k/playBytes/x") is None
