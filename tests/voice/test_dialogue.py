"""The dialogue-manager roles over a real Mosquitto: a Rhasspy satellite's wake word, another
dialogue manager using us as ASR, NLU queries, external skills, barge-in and timeouts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.gateway import gateway_settings, running_gateway
from tests.support.mosquitto import Mosquitto
from tests.voice.support import HermesClient, frames, silence, utterances

BY_NAME = {u.name: u for u in utterances("en")}


def _count(client: HermesClient) -> int:
    with client._lock:
        return len(client.messages)


async def test_dialogue_roles(broker: Mosquitto, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path, voice={"session_timeout_s": 2.0, "endpoint": {"no_speech_timeout_s": 1.0}})
    client = HermesClient(broker.host, broker.port)
    on = client.json_on
    try:
        async with running_gateway(settings, timeout=30):
            # A satellite detected its wake word: we start the session and listen.
            before = _count(client)
            await asyncio.to_thread(client.send, "hermes/hotword/porcupine/detected", {"siteId": "sat1", "modelId": "porcupine"})
            started = await asyncio.to_thread(on, "hermes/dialogueManager/sessionStarted", 10.0, before, siteId="sat1")
            await asyncio.to_thread(client.stream, "sat1", frames(BY_NAME["en_help_2"].pcm()))
            say = await asyncio.to_thread(on, "hermes/tts/say", 10.0, sessionId=started["sessionId"])
            captured = await asyncio.to_thread(on, "hermes/asr/textCaptured", 10.0, sessionId=started["sessionId"])
            assert "You can ask me" in str(say["text"]), captured
            ended = await asyncio.to_thread(on, "hermes/dialogueManager/sessionEnded", 10.0, sessionId=started["sessionId"])
            assert ended["termination"]["reason"] == "nominal"  # after the speaker played the reply

            # Another dialogue manager uses us as its recogniser: textCaptured only, no intent, no session messages.
            before = _count(client)
            await asyncio.to_thread(client.send, "hermes/asr/startListening", {"siteId": "ext", "sessionId": "ext-1"})
            await asyncio.to_thread(client.stream, "ext", frames(BY_NAME["en_hours_1"].pcm()))
            captured = await asyncio.to_thread(on, "hermes/asr/textCaptured", 10.0, before, sessionId="ext-1")
            assert captured["text"] == "what are your opening hours"
            await asyncio.sleep(0.3)
            with client._lock:
                later = [m.topic for m in client.messages[before:]]
            assert not any(t.startswith(("hermes/intent/", "hermes/dialogueManager/", "hermes/tts/")) for t in later), later

            # NLU as a service.
            await asyncio.to_thread(client.send, "hermes/nlu/query", {"input": "where can I find the bread", "id": "q1", "siteId": "x"})
            intent = await asyncio.to_thread(on, "hermes/intent/WhereIsProduct", 10.0, id="q1")
            assert intent["slots"][0]["value"]["value"] == "bread" and intent["siteId"] == "x"
            await asyncio.to_thread(client.send, "hermes/nlu/query", {"input": "sing me a song", "id": "q2"})
            await asyncio.to_thread(on, "hermes/nlu/intentNotRecognized", 10.0, id="q2")

            # An intent only an external skill handles (filtered to one without a built-in here):
            # startSession with a prompt, then the external skill ends the session with its answer.
            before = _count(client)
            await asyncio.to_thread(client.send, "hermes/dialogueManager/startSession", {"siteId": "k", "init": {"type": "action", "text": "Yes?"}, "customData": "c1"})
            started = await asyncio.to_thread(on, "hermes/dialogueManager/sessionStarted", 10.0, before, siteId="k")
            session = started["sessionId"]
            prompt = await asyncio.to_thread(on, "hermes/tts/say", 10.0, before, sessionId=session)
            assert prompt["text"] == "Yes?"
            await asyncio.to_thread(client.send, "hermes/dialogueManager/endSession", {"sessionId": session, "text": "Bye"})
            bye = await asyncio.to_thread(on, "hermes/tts/say", 10.0, before, sessionId=session, text="Bye")
            assert bye["siteId"] == "k"
            ended = await asyncio.to_thread(on, "hermes/dialogueManager/sessionEnded", 10.0, before, sessionId=session)
            assert ended["termination"]["reason"] == "nominal" and ended["customData"] == "c1"

            # Barge-in: a wake word on a busy site aborts the old session.
            first = await asyncio.to_thread(client.start_session, "b")
            before = _count(client)
            await asyncio.to_thread(client.send, "hermes/hotword/porcupine/detected", {"siteId": "b"})
            second = (await asyncio.to_thread(on, "hermes/dialogueManager/sessionStarted", 10.0, before, siteId="b"))["sessionId"]
            aborted = await asyncio.to_thread(on, "hermes/dialogueManager/sessionEnded", 10.0, sessionId=first)
            assert aborted["termination"]["reason"] == "abortedByUser"
            # ... and nobody speaks: silence until no_speech_timeout ends the turn.
            await asyncio.to_thread(client.stream, "b", frames(silence(1.5)))
            timed_out = await asyncio.to_thread(on, "hermes/dialogueManager/sessionEnded", 10.0, sessionId=second)
            assert timed_out["termination"]["reason"] == "timeout"

            # A session whose speaker sends nothing at all times out too.
            silent = await asyncio.to_thread(client.start_session, "quiet")
            gone = await asyncio.to_thread(on, "hermes/dialogueManager/sessionEnded", 10.0, sessionId=silent)
            assert gone["termination"]["reason"] == "timeout"

            # continueSession: ask again, restricted to one intent; what does not fit is not recognised.
            session = await asyncio.to_thread(client.start_session, "c")
            await asyncio.to_thread(on, "hermes/asr/startListening", 10.0, sessionId=session)
            before = _count(client)
            await asyncio.to_thread(client.send, "hermes/dialogueManager/continueSession", {"sessionId": session, "text": "Which product?", "intentFilter": ["WhereIsProduct"]})
            await asyncio.to_thread(on, "hermes/tts/say", 10.0, sessionId=session, text="Which product?")
            # The question is played first; then the gateway listens again (and says so).
            await asyncio.to_thread(on, "hermes/asr/startListening", 10.0, before, sessionId=session)
            await asyncio.to_thread(client.stream, "c", frames(BY_NAME["en_help_2"].pcm()))
            await asyncio.to_thread(on, "hermes/nlu/intentNotRecognized", 10.0, sessionId=session)

            # Unknown session ids get an error, not a crash.
            before = _count(client)
            await asyncio.to_thread(client.send, "hermes/dialogueManager/endSession", {"sessionId": "nope"})
            error = await asyncio.to_thread(on, "hermes/error/dialogueManager", 10.0, before)
            assert "no session nope" in str(error["error"])
    finally:
        client.close()
