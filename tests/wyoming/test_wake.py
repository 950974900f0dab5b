"""The wake stage on its own, with the real recogniser: it wakes on the phrase spoken inside a steady
noise that began just before it (the endpointer's floor must follow the noise), and a sentence
that is not the phrase is decoded and refused. Speech from espeak-ng in the tuning voice; the
figures (false wakes per hour, hits in held-out voices) are bench/wyoming_wake.py's."""

from __future__ import annotations

import subprocess
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soxr
from hypothesis import given
from hypothesis import strategies as st

from gateway.wyoming.settings import WakeSettings
from gateway.wyoming.wake import WakeFit, WakeSpotter, accepts, wake_model

RATE = 16_000


def _speech(text: str, path: Path, voice: str = "en-us", wpm: int = 150) -> np.ndarray:
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(path), text], check=True)
    with wave.open(str(path)) as wav:
        rate, frames = wav.getframerate(), wav.readframes(wav.getnframes())
    return soxr.resample(np.frombuffer(frames, "<i2").astype(np.float64) / 32768, rate, RATE)


def _steady_noise(seconds: float, rms: float) -> np.ndarray:
    noise = np.random.default_rng(5).standard_normal(int(seconds * RATE))
    return noise / np.sqrt(np.mean(noise**2)) * rms


async def _wakes(spotter: WakeSpotter, samples: np.ndarray) -> int:
    pcm, wakes = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes(), 0
    for start in range(0, len(pcm), 2048):
        if await spotter.feed(pcm[start : start + 2048]):
            wakes += 1
            spotter.reset()
    return wakes


async def test_the_phrase_in_noise_that_began_a_second_before_wakes_once_and_chatter_does_not(tmp_path: Path) -> None:
    settings = WakeSettings()
    with ThreadPoolExecutor(max_workers=1) as pool:
        spotter = WakeSpotter(wake_model(settings), settings, pool)
        phrase = _speech(settings.phrase, tmp_path / "p.wav")
        noise = _steady_noise(1.0 + len(phrase) / RATE + 1.0, np.sqrt(np.mean(phrase**2)) / 10)  # 20 dB below
        noise[RATE : RATE + len(phrase)] += phrase
        assert await _wakes(spotter, np.concatenate([np.zeros(RATE // 2), noise])) == 1
        assert spotter.last_fit is not None and spotter.last_fit.matched
        # The phone alignment ran on it (it runs only for what passes everything else) and found
        # no squeezed phone.
        share = spotter.last_fit.shortest_phone_share
        assert share is not None and share >= settings.min_phone_share

        decoded = spotter.decoded_utterances
        chatter = _speech("where do you keep the flour", tmp_path / "c.wav")
        assert await _wakes(spotter, np.concatenate([np.zeros(RATE // 2), chatter, np.zeros(RATE)])) == 0
        assert spotter.decoded_utterances == decoded + 1  # it was heard, decoded and refused


async def test_a_sentence_forced_onto_the_phrase_and_a_confusable_do_not_wake(tmp_path: Path) -> None:
    """Tuning sentences the stage woke on before its pause and phone checks: "they said it was
    great" (the grammar put "said it was" into a 0.5 s pause between the phrase's words) and "hey
    can I pay" (its "t" squeezed to a quarter of the mean phone), and a confusable of the tuning
    set, "touch great"."""
    settings = WakeSettings()
    with ThreadPoolExecutor(max_workers=1) as pool:
        spotter = WakeSpotter(wake_model(settings), settings, pool)
        cases = (("they said it was great", "en-us", 150), ("hey can I pay", "en-us+m1", 170), ("touch great", "en-us", 150))
        for number, (text, voice, wpm) in enumerate(cases):
            clip = _speech(text, tmp_path / f"{number}.wav", voice, wpm)
            decoded = spotter.decoded_utterances
            assert await _wakes(spotter, np.concatenate([np.zeros(RATE // 2), clip, np.zeros(RATE)])) == 0, text
            assert spotter.decoded_utterances == decoded + 1, text  # heard, decoded and refused
            if number == 0:  # "said it was" went into a pause inside the phrase (about 0.5 s)
                assert spotter.last_fit is not None and spotter.last_fit.inner_pause_frames * 10 > settings.max_inner_pause_ms
        fit = spotter.last_fit
        assert fit is not None and not accepts(fit, settings)


fits = st.builds(
    WakeFit,
    matched=st.booleans(),
    gap=st.floats(-5, 20, allow_nan=False),
    worst_word_gap=st.floats(-5, 30, allow_nan=False),
    shortest_phone_frames=st.floats(0, 40, allow_nan=False),
    longest_phone_frames=st.floats(0, 60, allow_nan=False),
    inner_pause_frames=st.integers(0, 300),
    shortest_phone_share=st.none() | st.floats(0, 1, allow_nan=False),
)


@given(fit=fits, tighter=st.floats(0.1, 1.0))
def test_stricter_settings_never_wake_on_more_and_no_match_never_wakes(fit: WakeFit, tighter: float) -> None:
    shipped = WakeSettings()
    strict = shipped.model_copy(
        update={
            "max_gap": shipped.max_gap * tighter,
            "max_word_gap": shipped.max_word_gap * tighter,
            "min_frames_per_phone": shipped.min_frames_per_phone / tighter,
            "max_duration_ratio": max(1.0, shipped.max_duration_ratio * tighter),
            "max_inner_pause_ms": int(shipped.max_inner_pause_ms * tighter),
            "min_phone_share": min(1.0, shipped.min_phone_share / tighter),
        }
    )
    if accepts(fit, strict):
        assert accepts(fit, shipped)
    assert not accepts(WakeFit.no_match(), shipped)
