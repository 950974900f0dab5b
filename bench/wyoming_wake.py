"""Wake-stage benchmark (gateway/wyoming/wake.py): false wakes per hour on speech that is not the
wake phrase and on noise, and the share of wake phrases heard, with the shipped settings.

Held out from tuning: the wake settings (min_posterior, pause_ms) were chosen on one voice
(espeak-ng en-us at 150 words per minute, the satellite test's). Everything here uses other
voices and speeds (en-gb, en-gb-scotland, en-029, en-us+f3, 130 and 175 wpm), sentences written
for this benchmark (shop chatter and phrases that sound like the wake phrase), and generated noise
(white, pink, brown; babble of overlapping sentences).

- false_wakes_per_hour.speech / .confusable / .noise / .babble: wakes per hour of each stream;
- wake_hit_rate: the wake phrase in the held-out voices, in quiet and with pink noise at 15 dB SNR;
- stream_hours: how much of each was heard (the false-wake rate's resolution is 1 / hours).

Usage: .venv/bin/python bench/wyoming_wake.py [--minutes-noise 10] [--seed 7]
The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soxr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.wyoming.settings import WakeSettings  # noqa: E402
from gateway.wyoming.wake import WakeSpotter, wake_engine  # noqa: E402

RATE = 16_000
VOICES = [("en-gb", 150), ("en-gb-scotland", 150), ("en-029", 150), ("en-us+f3", 150), ("en-us", 130), ("en-us", 175)]
SHOP_CHATTER = [
    "could you tell me where the eggs are",
    "I am looking for gluten free bread",
    "is there a toilet in this shop",
    "we need milk and two packs of butter",
    "how much is the olive oil",
    "do you take card payments",
    "my daughter wants the chocolate cereal",
    "the queue at the till is very long today",
    "have you got any fresh basil",
    "I think we forgot the tomatoes",
    "can I get a bag please",
    "the parking is free for two hours",
]
CONFUSABLE = [
    "hey touch base with me later",
    "touch the gate",
    "hey take the gate",
    "they touched the cake",
    "hey there",
    "hey dutch gate",
    "hey much great",
    "touch gate",
    "hey touch",
    "get the gate",
]


# Tuning data (`--tune`), never used for the figures above: other voices, other sentences.
TUNING_VOICES = [("en-us", 150), ("en-gb-x-rp", 140), ("en-us+m3", 160), ("en-gb-x-gbclan", 150)]
TUNING_CHATTER = [
    "where do you keep the flour", "is this on offer", "hey can you help me", "touch screen payments only",
    "thank you have a nice day", "the gate is open", "hey watch out", "just the receipt please",
]
TUNING_CONFUSABLE = ["hey touch game", "hey such gate", "touch great", "hey catch gate", "a touching date", "hey touch"]


def loop_s() -> float:
    started = time.perf_counter()
    sum(range(10**7))
    return round(time.perf_counter() - started, 3)


def speak(text: str, voice: str, wpm: int, workdir: Path) -> np.ndarray:
    path = workdir / "say.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(path), text], check=True)
    with wave.open(str(path)) as wav:
        rate, frames = wav.getframerate(), wav.readframes(wav.getnframes())
    return soxr.resample(np.frombuffer(frames, "<i2").astype(np.float64) / 32768, rate, RATE)


def coloured_noise(seconds: float, colour: str, rng: np.random.Generator, level: float = 0.05) -> np.ndarray:
    white = rng.standard_normal(int(seconds * RATE))
    if colour == "white":
        noise = white
    else:
        spectrum = np.fft.rfft(white)
        freqs = np.fft.rfftfreq(len(white), 1 / RATE)
        freqs[0] = freqs[1]
        spectrum /= np.sqrt(freqs) if colour == "pink" else freqs
        noise = np.fft.irfft(spectrum, len(white))
    return noise / np.max(np.abs(noise)) * level


def with_pauses(clips: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    parts = []
    for clip in clips:
        parts += [np.zeros(int(rng.uniform(0.3, 1.5) * RATE)), clip]
    parts.append(np.zeros(RATE))
    return np.concatenate(parts)


def to_pcm(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


async def count_wakes(spotter: WakeSpotter, samples: np.ndarray) -> int:
    """Fed as a satellite streams it (1024-sample chunks); a wake resets the stage, as a session would."""
    pcm, step, wakes = to_pcm(samples), 2048, 0
    for start in range(0, len(pcm), step):
        if await spotter.feed(pcm[start : start + step]):
            wakes += 1
            spotter.reset()
    return wakes


async def run(args: argparse.Namespace) -> dict[str, object]:
    rng = np.random.default_rng(args.seed)
    settings = WakeSettings()
    pool = ThreadPoolExecutor(max_workers=1)
    engine = wake_engine(settings)
    spotter = WakeSpotter(engine, settings, pool)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        chatter = [speak(text, voice, wpm, workdir) for voice, wpm in VOICES for text in SHOP_CHATTER]
        confusable = [speak(text, voice, wpm, workdir) for voice, wpm in VOICES for text in CONFUSABLE]
        phrases = [speak(settings.phrase, voice, wpm, workdir) for voice, wpm in VOICES]
    streams: dict[str, np.ndarray] = {
        "speech": with_pauses(chatter, rng),
        "confusable": with_pauses(confusable, rng),
        "noise": np.concatenate([coloured_noise(args.minutes_noise * 20, c, rng) for c in ("white", "pink", "brown")]),
    }
    babble_s = args.minutes_noise * 60
    babble = np.zeros(int(babble_s * RATE))
    for _ in range(int(babble_s * 1.5)):  # about three voices talking at once
        clip = chatter[rng.integers(len(chatter))] * 0.3
        start = rng.integers(0, len(babble) - len(clip))
        babble[start : start + len(clip)] += clip
    streams["babble"] = babble
    false_wakes, hours = {}, {}
    for name, samples in streams.items():
        spotter.reset()
        wakes = await count_wakes(spotter, samples)
        hours[name] = round(len(samples) / RATE / 3600, 4)
        false_wakes[name] = round(wakes / hours[name], 1)
        print(f"{name}: {wakes} wakes in {hours[name] * 60:.1f} min", flush=True)
    hits = 0
    for phrase in phrases:
        for noisy in (False, True):
            clip = phrase
            if noisy:  # pink noise 15 dB below the phrase's power
                noise = coloured_noise(len(clip) / RATE + 2, "pink", rng, 1.0)
                speech_power, noise_power = np.mean(clip**2), np.mean(noise**2)
                noise *= np.sqrt(speech_power / noise_power / 10 ** 1.5)
                clip = noise.copy()
                clip[RATE : RATE + len(phrase)] += phrase
            spotter.reset()
            hits += await count_wakes(spotter, np.concatenate([np.zeros(RATE // 2), clip, np.zeros(RATE)])) > 0
    pool.shutdown()
    return {
        "false_wakes_per_hour": false_wakes,
        "stream_hours": hours,
        "wake_hit_rate": round(hits / (2 * len(phrases)), 3),
        "wake_trials": 2 * len(phrases),
        "settings": settings.model_dump(),
    }


def tune(gaps: list[float | None], posteriors: list[float]) -> None:
    """Per clip of the tuning data: was it decoded as the phrase, and at what posterior, for each
    phone-loop gap limit; then wakes and misses per (gap, posterior). Prints, emits nothing."""
    from gateway.voice.engines.pocketsphinx_engine import PocketSphinxEngine
    from gateway.voice.nlu.ast import Template
    from gateway.voice.nlu.expand import GrammarSource
    from gateway.voice.nlu.parse import parse_expression
    from gateway.voice.settings import PocketSphinxSettings

    settings = WakeSettings()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        pad = np.zeros(RATE // 4)
        clips = {
            "phrase": [speak(settings.phrase, v, w, workdir) for v, w in TUNING_VOICES],
            "other": [speak(t, v, w, workdir) for v, w in TUNING_VOICES for t in TUNING_CHATTER + TUNING_CONFUSABLE],
        }
    template = Template("wake", parse_expression(settings.phrase, "wake"), "wake", settings.phrase)
    for gap in gaps:
        engine = PocketSphinxEngine(GrammarSource([template], {}, {}, set()), PocketSphinxSettings(min_posterior=0.0, max_phone_gap=gap), dictation=False)
        scores: dict[str, list[float]] = {}
        for kind, group in clips.items():
            scores[kind] = []
            for clip in group:
                recogniser = engine.recogniser()
                recogniser.accept(to_pcm(np.concatenate([pad, clip, pad])))
                transcript = recogniser.finish()
                recogniser.close()
                scores[kind].append(transcript.confidence if transcript.text == settings.phrase else -1.0)
        for posterior in posteriors:
            hits = sum(score >= posterior and score > 0 for score in scores["phrase"])
            false = sum(score >= posterior and score > 0 for score in scores["other"])
            print(f"gap {gap}: posterior {posterior}: phrase {hits}/{len(scores['phrase'])}, false {false}/{len(scores['other'])}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes-noise", type=float, default=5.0, help="minutes of generated noise, and of babble")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tune", action="store_true", help="scores on the tuning data only (no figures)")
    args = parser.parse_args()
    if args.tune:
        tune([None, 2.7, 2.0, 1.5, 1.0], [0.01, 0.1, 0.3, 0.5, 0.8])
        return
    result = asyncio.run(run(args))
    machine = {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()}
    print(json.dumps({"benchmark": "wyoming_wake", "machine": machine, "loop_s": loop_s(), **result}, sort_keys=True))


if __name__ == "__main__":
    main()
