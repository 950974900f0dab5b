"""Every way a session ends, each with its termination reason; one session per site, others
queued where they may be; timeouts per site. Real Mosquitto, real recogniser, real TTS."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from tests.dialogue.satellite import Satellite
from tests.support.gateway import gateway_settings, running_gateway
from tests.support.mosquitto import Mosquitto

SITES: dict[str, Any] = {"hurry": {"session_timeout_s": 1.5}, "hush": {"no_speech_timeout_s": 1.0}}


async def test_each_ending_has_its_reason(broker: Mosquitto, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path, voice={"sites": SITES}, tts={"play_finished_timeout_s": 0.5})
    sats = {site: Satellite(broker.host, broker.port, site, answer_play=site != "mute") for site in ("patient", "hurry", "hush", "mute", "broken")}
    run = asyncio.to_thread
    try:
        async with running_gateway(settings, timeout=30):
            # A second wake word during a session: the first ends abortedByUser, a new one starts.
            patient = sats["patient"]
            first = await run(patient.wake)
            # Per-site timeouts: "hurry" gives up after 1.5 s of nothing; "patient" (30 s) waits on.
            hurry = await run(sats["hurry"].wake)
            ended = await run(sats["hurry"].ended, hurry, 5.0)
            assert ended["termination"]["reason"] == "timeout"
            assert "hermes/dialogueManager/sessionEnded" not in patient.topics_since(0)
            before = patient.count()
            second = await run(patient.wake)
            aborted = await run(patient.ended, first)
            assert aborted["termination"]["reason"] == "abortedByUser"
            await run(patient.listening, second, before)
            # Speech outside every skill: the apology is spoken, then intentNotRecognized.
            await run(patient.say_utterance, "en_off_joke")
            await run(patient.json_on, "hermes/nlu/intentNotRecognized", 10.0, before, sessionId=second)
            await run(patient.wait_play_bytes, before)
            assert (await run(patient.ended, second))["termination"]["reason"] == "intentNotRecognized"

            # Nobody speaks: the site's own no-speech timeout (1 s) ends the turn.
            hush = sats["hush"]
            session = await run(hush.wake)
            await run(hush.listening, session)
            await run(hush.say_nothing, 1.5)
            captured = await run(hush.json_on, "hermes/asr/textCaptured", 10.0, 0, sessionId=session)
            assert captured["text"] == ""
            assert (await run(hush.ended, session))["termination"]["reason"] == "timeout"

            # A satellite that never reports playFinished: the reply's duration plus 0.5 s, then the
            # TTS part says so and the session ends with timeout (not hanging, not "nominal").
            mute = sats["mute"]
            session = await run(mute.wake)
            await run(mute.listening, session)
            await run(mute.say_utterance, "en_hours_1")
            await run(mute.wait_play_bytes)
            error = await run(mute.json_on, "hermes/error/tts", 15.0, 0, sessionId=session)
            assert str(error["error"]).startswith("no playFinished")
            ended = await run(mute.ended, session)
            assert ended["termination"]["reason"] == "timeout" and "no playFinished" in str(ended["termination"]["error"])
            topics = mute.topics_since(0)
            assert topics.index("hermes/error/tts") < topics.index("hermes/tts/sayFinished") < topics.index("hermes/dialogueManager/sessionEnded")

            # Audio that is not WAV ends the session with error.
            broken = sats["broken"]
            session = await run(broken.wake)
            await run(broken.listening, session)
            await run(broken.send, "hermes/audioServer/broken/audioFrame", b"RIFF\x00\x00not a wave file", 0)
            ended = await run(broken.ended, session)
            assert ended["termination"]["reason"] == "error" and "malformed audio" in str(ended["termination"]["error"])
            for sat in sats.values():  # the wake word is handed back after every session (barge-in: once)
                await run(_wake_word_handed_back, sat)
    finally:
        for sat in sats.values():
            sat.close()


def _wake_word_handed_back(sat: Satellite, timeout: float = 5.0) -> None:
    """Every toggleOff has its toggleOn. The toggleOn follows sessionEnded on the wire, so it may still
    be on its way when the test has just seen sessionEnded: wait for it, within a bound."""
    deadline = time.monotonic() + timeout
    while True:
        topics = sat.topics_since(0)
        if topics.count("hermes/hotword/toggleOff") == topics.count("hermes/hotword/toggleOn") >= 1:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{sat.site}: wake word toggles not paired: {topics}")
        time.sleep(0.01)


async def test_one_session_per_site_others_queued(broker: Mosquitto, tmp_path: Path) -> None:
    desk = Satellite(broker.host, broker.port, "desk")
    door = Satellite(broker.host, broker.port, "door")
    run = asyncio.to_thread
    start = "hermes/dialogueManager/startSession"
    try:
        async with running_gateway(gateway_settings(broker, tmp_path), timeout=30):
            first = await run(desk.start_session, "desk")
            before = desk.count()
            await run(desk.send, start, {"siteId": "desk", "init": {"type": "action", "canBeEnqueued": True}, "customData": "q2"})
            queued = await run(desk.json_on, "hermes/dialogueManager/sessionQueued", 10.0, before, customData="q2")
            await run(desk.send, start, {"siteId": "desk", "init": {"type": "action", "canBeEnqueued": False}, "customData": "never"})
            dropped = await run(desk.json_on, "hermes/error/dialogueManager", 10.0, before, siteId="desk")
            assert "busy" in str(dropped["error"])
            await run(desk.send, start, {"siteId": "desk", "init": {"type": "notification", "text": "Your order is ready."}, "customData": "n3"})
            notification = await run(desk.json_on, "hermes/dialogueManager/sessionQueued", 10.0, before, customData="n3")
            # Another site is not held up by the busy one.
            other = await run(door.start_session, "door")
            assert other not in (first, queued["sessionId"])
            started = [m for m in desk.topics_since(before) if m == "hermes/dialogueManager/sessionStarted"]
            assert started == []  # nothing started on the busy desk

            # The first session ends: the queued ones follow, in order, with the ids announced.
            await run(desk.send, "hermes/dialogueManager/endSession", {"sessionId": first})
            assert (await run(desk.ended, first))["termination"]["reason"] == "nominal"
            second = await run(desk.json_on, "hermes/dialogueManager/sessionStarted", 10.0, before, sessionId=queued["sessionId"])
            assert second["customData"] == "q2"
            await run(desk.send, "hermes/dialogueManager/endSession", {"sessionId": queued["sessionId"]})
            await run(desk.json_on, "hermes/dialogueManager/sessionStarted", 10.0, before, sessionId=notification["sessionId"])
            spoken = await run(desk.json_on, "hermes/tts/say", 10.0, before, sessionId=notification["sessionId"])
            assert spoken["text"] == "Your order is ready."
            assert (await run(desk.ended, notification["sessionId"]))["termination"]["reason"] == "nominal"
            with desk._lock:
                assert not any(b"never" in m.payload for m in desk.messages if m.topic == "hermes/dialogueManager/sessionStarted")
    finally:
        desk.close()
        door.close()
