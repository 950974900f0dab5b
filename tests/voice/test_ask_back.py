"""The effect guard's ask-back as a Hermes dialogue, over a real Mosquitto with PocketSphinx on
the committed audio: an effectful intent heard below its threshold is asked about, not done;
"yes" then does it, "no" does nothing. CallStaff's threshold is set above any confidence, so
whatever PocketSphinx hears of "can someone help me" is not sure enough (the threshold, not the
audio, makes the turn uncertain: repeatable)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.voice.effects import ASK_BACK, DECLINED
from tests.support.gateway import gateway_settings, running_gateway
from tests.support.mosquitto import Mosquitto
from tests.voice.support import HermesClient, frames, utterances

CALL_STAFF = next(u for u in utterances("en") if u.name == "en_staff_2")
ANSWERS = {u.intent: u for u in utterances("en", "answers.tsv")}


async def _asked_back(client: HermesClient, site: str) -> tuple[str, int]:
    """A session on `site` in which "can someone help me" is asked back; returns the session and
    the message count once the gateway listens for the answer."""
    session = await asyncio.to_thread(client.start_session, site)
    await asyncio.to_thread(client.stream, site, frames(CALL_STAFF.pcm()))
    question = await asyncio.to_thread(client.json_on, "hermes/tts/say", 20.0, sessionId=session)
    assert question["text"] == ASK_BACK["CallStaff"]["en"]
    # Counted from the question itself, not from when this thread saw it: on a loaded machine the
    # gateway's next startListening can arrive before this line runs.
    with client._lock:
        asked_at = 1 + next(
            i for i, m in enumerate(client.messages) if m.topic == "hermes/tts/say" and session.encode() in m.payload
        )
    # The question was spoken (playFinished answered by the client): the gateway listens again.
    await asyncio.to_thread(client.json_on, "hermes/asr/startListening", 20.0, asked_at, sessionId=session)
    return session, asked_at


def _intents_and_calls(client: HermesClient, session: str, site: str) -> list[str]:
    with client._lock:
        return [m.topic for m in client.messages if m.topic.startswith("hermes/intent/") and session.encode() in m.payload or m.topic == f"touchgate/{site}/staff"]


async def test_asked_back_then_yes_calls_staff_and_no_does_nothing(broker: Mosquitto, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path, voice={"guard": {"intent_min_confidence": {"CallStaff": 1.01}}})
    client = HermesClient(broker.host, broker.port)
    try:
        async with running_gateway(settings, timeout=60):
            session, asked_at = await _asked_back(client, "till")
            assert _intents_and_calls(client, session, "till") == []  # asked, not done
            await asyncio.to_thread(client.stream, "till", frames(ANSWERS["Affirm"].pcm()))
            intent = await asyncio.to_thread(client.json_on, "hermes/intent/CallStaff", 20.0, asked_at, sessionId=session)
            assert intent["siteId"] == "till"
            call = await asyncio.to_thread(client.json_on, "touchgate/till/staff", 20.0, asked_at)
            assert call["kind"] == "staff_call"
            ended = await asyncio.to_thread(client.json_on, "hermes/dialogueManager/sessionEnded", 20.0, asked_at, sessionId=session)
            assert ended["termination"]["reason"] == "nominal"

            session, asked_at = await _asked_back(client, "door")
            await asyncio.to_thread(client.stream, "door", frames(ANSWERS["Deny"].pcm()))
            declined = await asyncio.to_thread(client.json_on, "hermes/tts/say", 20.0, asked_at, sessionId=session)
            assert declined["text"] == DECLINED["en"]
            await asyncio.to_thread(client.json_on, "hermes/dialogueManager/sessionEnded", 20.0, asked_at, sessionId=session)
            # Everything of the session happened before its end: no intent, no staff call.
            assert _intents_and_calls(client, session, "door") == []
    finally:
        client.close()
