"""Reading the WAV chunks of Hermes audio frames into 16 kHz mono 16-bit PCM. Pure: no I/O.

A Rhasspy satellite sends each frame as a complete small WAV file (header + a few hundred ms of
samples). Anything else – a truncated header, a compressed or float format, 8/24/32-bit samples,
more than two channels, rates outside 8–48 kHz – is refused with a reason (it becomes a Hermes
error). Other rates are resampled and stereo is mixed down, so a speaker that records at 44.1 kHz
works unmodified.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import numpy as np

TARGET_RATE = 16_000
SAMPLE_WIDTH = 2
MIN_RATE, MAX_RATE = 8_000, 48_000


class AudioFormatError(ValueError):
    """A frame that cannot be turned into 16 kHz mono PCM; the message says why."""


@dataclass(frozen=True, slots=True)
class PcmChunk:
    """16 kHz mono signed 16-bit little-endian samples."""

    pcm: bytes

    @property
    def seconds(self) -> float:
        return len(self.pcm) / (TARGET_RATE * SAMPLE_WIDTH)


def read_wav_chunk(data: bytes, max_bytes: int) -> PcmChunk:
    if len(data) > max_bytes:
        raise AudioFormatError(f"frame of {len(data)} bytes is larger than the limit of {max_bytes}")
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFormatError("not a WAV file (no RIFF/WAVE header)")
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
            declared = reader.getnframes()
            frames = reader.readframes(declared)
    except (wave.Error, EOFError) as exc:
        raise AudioFormatError(f"unreadable WAV: {exc or 'truncated header'}") from exc
    if width != SAMPLE_WIDTH:
        raise AudioFormatError(f"{width * 8}-bit samples: only 16-bit PCM is accepted")
    if channels not in (1, 2):
        raise AudioFormatError(f"{channels} channels: only mono or stereo is accepted")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioFormatError(f"sample rate {rate} Hz is outside {MIN_RATE}–{MAX_RATE} Hz")
    if len(frames) != declared * channels * width:
        raise AudioFormatError(
            f"truncated WAV: header declares {declared} frames, {len(frames) // (channels * width)} present"
        )
    if channels == 1 and rate == TARGET_RATE:
        return PcmChunk(frames)
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float32)
    if channels == 2:
        samples = samples.reshape(-1, 2).mean(axis=1)
    if rate != TARGET_RATE and samples.size:
        samples = _resample(samples, rate)
    return PcmChunk(np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes())


def _resample(samples: np.ndarray, rate: int) -> np.ndarray:
    """Linear interpolation: good enough for speech recognition at 8–48 kHz (the recognisers
    look at 300–8000 Hz); a polyphase filter would cost more than it gains here."""
    count = max(1, round(samples.size * TARGET_RATE / rate))
    positions = np.arange(count, dtype=np.float64) * (rate / TARGET_RATE)
    return np.interp(positions, np.arange(samples.size, dtype=np.float64), samples)


def make_wav(pcm: bytes, rate: int = TARGET_RATE, channels: int = 1, width: int = SAMPLE_WIDTH) -> bytes:
    """A complete WAV file around `pcm` (for speakers, captures and tests)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(pcm)
    return out.getvalue()
