"""Not understood in the shop's noise: the speaker asks the customer to come closer and say it
again, instead of listing what it can help with (voice.guard.noisy_below_db). Real audio through
a real Mosquitto and PocketSphinx: the same off-topic request, once clean and once under pink
noise 10 dB below the speech."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import numpy as np
import pytest

from gateway.voice.effects import NOT_UNDERSTOOD, NOT_UNDERSTOOD_NOISY, EffectGuard
from gateway.voice.settings import GuardSettings
from tests.support.gateway import gateway_settings, running_gateway
from tests.support.mosquitto import Mosquitto
from tests.voice.support import HermesClient, frames, utterances

ROOT = Path(__file__).resolve().parents[2]
OFF_TOPIC = next(u for u in utterances("en") if u.name == "en_off_joke")


def under_noise(pcm: bytes, snr_db: float, lead_s: float = 0.5) -> bytes:
    """The shop's noise from before the customer speaks until after, `snr_db` under the speech,
    made the way the held-out corpus makes its pink-noise files."""
    sys.path.insert(0, str(ROOT / "bench"))
    from _voice_heldout import renderer  # loads tests/data/voice_heldout/render.py

    render = renderer()
    speech = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    speech = np.concatenate([np.zeros(int(16000 * lead_s)), speech])
    noise = render.pink_noise(speech.size, np.random.default_rng(7))
    noisy = speech + render.noise_gain(speech, noise, snr_db) * noise
    return np.clip(noisy, -32768, 32767).astype("<i2").tobytes()


async def _sorry(client: HermesClient, pcm: bytes) -> str:
    session = await asyncio.to_thread(client.start_session, "aisle")
    await asyncio.to_thread(client.stream, "aisle", frames(pcm))
    await asyncio.to_thread(client.json_on, "hermes/nlu/intentNotRecognized", 20.0, sessionId=session)
    say = await asyncio.to_thread(client.json_on, "hermes/tts/say", 10.0, sessionId=session)
    ended = await asyncio.to_thread(client.json_on, "hermes/dialogueManager/sessionEnded", 10.0, sessionId=session)
    assert ended["termination"]["reason"] == "intentNotRecognized"
    return str(say["text"])


async def test_under_noise_the_speaker_asks_to_come_closer(broker: Mosquitto, tmp_path: Path) -> None:
    client = HermesClient(broker.host, broker.port)
    try:
        async with running_gateway(gateway_settings(broker, tmp_path), timeout=30) as runtime:
            noisy_turns = lambda: runtime.metrics.registry.get_sample_value("touchgate_voice_noisy_turns_total")  # noqa: E731
            assert await _sorry(client, OFF_TOPIC.pcm()) == NOT_UNDERSTOOD["en"]
            assert noisy_turns() == 0
            assert await _sorry(client, under_noise(OFF_TOPIC.pcm(), snr_db=10.0)) == NOT_UNDERSTOOD_NOISY["en"]
            assert noisy_turns() == 1  # the operator sees the speaker stands where it is loud
    finally:
        client.close()


@pytest.mark.parametrize(
    ("noisy_below_db", "snr_db", "lang", "expected"),
    [
        (22.0, 12.0, "en", NOT_UNDERSTOOD_NOISY["en"]),
        (22.0, 12.0, "de", NOT_UNDERSTOOD_NOISY["de"]),
        (22.0, 22.0, "en", NOT_UNDERSTOOD["en"]),  # at the bound: not noisy
        (22.0, None, "de", NOT_UNDERSTOOD["de"]),  # a recogniser that does not measure it (Vosk)
        (22.0, 0.0, "en", NOT_UNDERSTOOD["en"]),  # a clip too short to measure (snr_estimate's 0)
        (None, 3.0, "en", NOT_UNDERSTOOD["en"]),  # the operator turned it off
        (22.0, 12.0, "ko", NOT_UNDERSTOOD_NOISY["en"]),  # no text in that language: English, as every reply
    ],
)
def test_which_sorry(noisy_below_db: float | None, snr_db: float | None, lang: str, expected: str) -> None:
    assert EffectGuard(GuardSettings(noisy_below_db=noisy_below_db)).not_understood(lang, snr_db) == expected
