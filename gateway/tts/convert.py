"""Sample-rate, sample-width, channel and volume conversion (numpy + libsoxr).

Engines speak at their own rate (espeak-ng 22050 Hz, Piper per voice); each site's speaker may
want another. soxr's resampler is band-limited, so downsampling does not fold hiss into speech.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import soxr

from gateway.tts.wav import AudioFormat, Pcm

_DTYPES: dict[int, np.dtype[Any]] = {1: np.dtype("u1"), 2: np.dtype("<i2"), 4: np.dtype("<i4")}
_SCALE = {1: 128.0, 2: 32768.0, 4: 2147483648.0}


def convert(pcm: Pcm, target: AudioFormat, volume: float | None = None) -> Pcm:
    """`pcm` in `target` format, scaled by `volume` (0..1; None or 1 leaves it as it is)."""
    gain = 1.0 if volume is None else volume
    if pcm.format == target and gain == 1.0:
        return pcm
    samples = _to_float(pcm)  # shape (frames, channels), -1..1
    if samples.shape[1] != target.channels:
        mono = samples.mean(axis=1, keepdims=True)
        samples = np.repeat(mono, target.channels, axis=1)
    if pcm.format.sample_rate != target.sample_rate and len(samples):
        samples = soxr.resample(samples, pcm.format.sample_rate, target.sample_rate, quality="HQ")
    if gain != 1.0:
        samples = samples * gain
    return Pcm(_from_float(samples, target.sample_width), target)


def _to_float(pcm: Pcm) -> np.ndarray:
    width = pcm.format.sample_width
    raw = np.frombuffer(pcm.data, dtype=_DTYPES[width]).astype(np.float32)
    if width == 1:
        raw -= 128.0
    return (raw / _SCALE[width]).reshape(-1, pcm.format.channels)


def _from_float(samples: np.ndarray, width: int) -> bytes:
    scale = _SCALE[width]
    scaled = np.clip(np.rint(samples.astype(np.float64) * scale), -scale, scale - 1)
    if width == 1:
        scaled += 128.0
    return scaled.astype(_DTYPES[width]).tobytes()
