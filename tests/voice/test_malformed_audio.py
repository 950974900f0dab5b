"""Malformed audio and Hermes messages get a Hermes error (and a dead letter for control
messages), never a crash: after all of them the gateway still answers a good utterance."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import sqlite_utils

from gateway.audio import make_wav
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto
from tests.voice.support import HermesClient, frames, utterances

MILK = next(u for u in utterances("en") if u.name == "en_where_milk")


async def _error_after(client: HermesClient, before: int, component: str, **fields: object) -> dict[str, object]:
    return await asyncio.to_thread(client.json_on, f"hermes/error/{component}", 10.0, before, **fields)


def _count(client: HermesClient) -> int:
    with client._lock:
        return len(client.messages)


async def test_malformed_audio_gets_hermes_errors_and_the_gateway_goes_on(broker: Mosquitto, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path, voice={"endpoint": {"max_utterance_s": 2.0}})
    client = HermesClient(broker.host, broker.port)
    try:
        async with running_gateway(settings, timeout=30) as runtime:
            # 8-bit samples: refused with the reason, and the session ends in error.
            session = await asyncio.to_thread(client.start_session, "s1")
            before = _count(client)
            await asyncio.to_thread(client.stream, "s1", [make_wav(b"\x80" * 2048, width=1)])
            error = await _error_after(client, before, "asr", sessionId=session)
            assert "8-bit" in str(error["error"]) and error["siteId"] == "s1"
            ended = await asyncio.to_thread(client.json_on, "hermes/dialogueManager/sessionEnded", 10.0, sessionId=session)
            assert ended["termination"]["reason"] == "error"

            # A truncated header, and a frame whose data is shorter than its header says.
            good = make_wav(b"\x00\x01" * 1024)
            for broken, words in ((good[:30], "unreadable WAV"), (good[:-100], "truncated WAV")):
                session = await asyncio.to_thread(client.start_session, "s2")
                before = _count(client)
                await asyncio.to_thread(client.stream, "s2", [broken])
                error = await _error_after(client, before, "asr", sessionId=session)
                assert words in str(error["error"])

            # Not a WAV at all, outside any session.
            before = _count(client)
            await asyncio.to_thread(client.stream, "s3", [b"this is not audio"])
            error = await _error_after(client, before, "asr", siteId="s3")
            assert "not a WAV" in str(error["error"])

            # Frames for a session that does not exist.
            before = _count(client)
            client.publisher.publish("hermes/audioServer/s4/no-such-session/audioSessionFrame", good, qos=0)
            error = await _error_after(client, before, "asr", siteId="s4")
            assert "unknown session" in str(error["error"])

            # An endless stream (speech-like noise that never pauses) is cut at max_utterance_s.
            session = await asyncio.to_thread(client.start_session, "s5")
            noise = (np.random.default_rng(7).normal(0, 6000, 16000 * 4)).clip(-32768, 32767).astype("<i2").tobytes()
            before = _count(client)
            await asyncio.to_thread(client.stream, "s5", frames(noise))
            error = await _error_after(client, before, "asr", sessionId=session)
            assert "longer than 2 s" in str(error["error"])

            # Invalid control messages: dead-lettered with the reason, and a Hermes error.
            before = _count(client)
            await asyncio.to_thread(client.send, "hermes/dialogueManager/startSession", b"{not json")
            await asyncio.to_thread(client.send, "hermes/nlu/query", {"siteId": "a/b", "input": "help"})
            await _error_after(client, before, "dialogueManager")
            await _error_after(client, before, "nlu")
            await wait_until(lambda: runtime.ingest.counters.dead_letters >= 2)

            # After all that, a 44.1 kHz stereo speaker is resampled and understood.
            pcm = np.frombuffer(MILK.pcm(), dtype="<i2").astype(np.float64)
            positions = np.arange(0, pcm.size, 16000 / 44100)
            resampled = np.interp(positions, np.arange(pcm.size), pcm).astype("<i2")
            stereo = np.repeat(resampled, 2).tobytes()
            session = await asyncio.to_thread(client.start_session, "s6")
            step = 2048 * 4
            await asyncio.to_thread(client.stream, "s6", [make_wav(stereo[i : i + step], rate=44100, channels=2) for i in range(0, len(stereo), step)])
            intent = await asyncio.to_thread(client.json_on, "hermes/intent/WhereIsProduct", 10.0, sessionId=session)
            assert intent["slots"][0]["value"]["value"] == "milk"
        db = sqlite_utils.Database(settings.store.path)
        reasons = {row["reason"] for row in db["dead_letters"].rows}
        assert reasons == {"invalid_hermes"}
        assert not any(b"RIFF" in row["raw"] for row in db["dead_letters"].rows)  # audio is never stored
        assert json.loads(json.dumps(list(db["events"].rows))) == []  # no voice events were stored
    finally:
        client.close()
