"""PCM audio and WAV files, for both directions of speech: what speakers send (Hermes audio
frames, read into 16 kHz mono 16-bit for the recognisers) and what the TTS engines write (converted
to each speaker's format). One parser, one writer, one resampler (libsoxr, band-limited, so
downsampling does not fold hiss into speech).

Parsing and writing are stdlib only (cheap to import: the settings use `AudioFormat`); numpy and
soxr, in the speech extra, are imported by the conversions, which only the voice and TTS parts
call.

espeak-ng writes its WAV header before it knows the length (`--stdout` streams), so its RIFF and
data sizes are placeholders: `read_wav` trusts the bytes present. A Hermes frame is a complete
small WAV file, so `read_frame` refuses one whose data is shorter than its header says.
"""

from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

_PCM = 1
_EXTENSIBLE = 0xFFFE

# What the recognisers take, and what a speaker's frame may be before it is converted to it.
RECOGNISER_RATE = 16_000
RECOGNISER_WIDTH = 2
FRAME_MIN_RATE, FRAME_MAX_RATE = 8_000, 48_000


class AudioFormatError(ValueError):
    """Bytes that are not audio this gateway accepts; the message says why."""


@dataclass(frozen=True, slots=True)
class AudioFormat:
    sample_rate: int
    sample_width: int  # bytes per sample: 1 (unsigned), 2 or 4 (signed little-endian)
    channels: int

    @property
    def frame_bytes(self) -> int:
        return self.sample_width * self.channels


RECOGNISER_FORMAT = AudioFormat(RECOGNISER_RATE, RECOGNISER_WIDTH, 1)


@dataclass(frozen=True, slots=True)
class Pcm:
    """Interleaved little-endian PCM samples and their format."""

    data: bytes
    format: AudioFormat

    @property
    def frames(self) -> int:
        return len(self.data) // self.format.frame_bytes

    @property
    def duration_s(self) -> float:
        return self.frames / self.format.sample_rate


@dataclass(frozen=True, slots=True)
class PcmChunk:
    """16 kHz mono signed 16-bit little-endian samples (what the recognisers take)."""

    pcm: bytes

    @property
    def seconds(self) -> float:
        return len(self.pcm) / (RECOGNISER_RATE * RECOGNISER_WIDTH)


# -- WAV --------------------------------------------------------------------------------------
def read_wav(data: bytes) -> Pcm:
    """Parse a PCM WAV file. Chunk sizes that run past the end (streamed headers) are cut to the
    bytes present; anything but integer PCM is refused."""
    pcm, _ = _parse(data)
    return pcm


def _parse(data: bytes) -> tuple[Pcm, int]:
    """The samples present, and the frames the data chunk's header declares."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFormatError("not a WAV file (no RIFF/WAVE header)")
    offset = 12
    fmt: AudioFormat | None = None
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        body_start = offset + 8
        body = data[body_start : body_start + size]
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(body)
        elif chunk_id == b"data":
            if fmt is None:
                raise AudioFormatError("data chunk before fmt chunk")
            usable = len(body) - len(body) % fmt.frame_bytes
            return Pcm(bytes(body[:usable]), fmt), size // fmt.frame_bytes
        offset = body_start + size + (size & 1)  # chunks are padded to even sizes
    raise AudioFormatError("no data chunk")


def _parse_fmt(body: bytes) -> AudioFormat:
    if len(body) < 16:
        raise AudioFormatError("fmt chunk too short")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
    if tag not in (_PCM, _EXTENSIBLE):
        raise AudioFormatError(f"unsupported WAV encoding {tag:#x}: integer PCM only")
    if bits not in (8, 16, 32) or not 1 <= channels <= 8 or not 1000 <= rate <= 384_000:
        raise AudioFormatError(f"unsupported format: {bits} bits, {channels} channels, {rate} Hz")
    return AudioFormat(rate, bits // 8, channels)


def write_wav(pcm: Pcm) -> bytes:
    return make_wav(pcm.data, pcm.format.sample_rate, pcm.format.channels, pcm.format.sample_width)


def make_wav(data: bytes, rate: int = RECOGNISER_RATE, channels: int = 1, width: int = RECOGNISER_WIDTH) -> bytes:
    """A complete WAV file around PCM `data` (for speakers, captures and tests)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(data)
    return out.getvalue()


# -- a speaker's frames -----------------------------------------------------------------------
def read_frame(data: bytes, max_bytes: int) -> PcmChunk:
    """A Hermes audio frame (one complete WAV file) as 16 kHz mono 16-bit PCM for the recogniser.

    Refused with the reason: more than `max_bytes`, not a WAV, a truncated header or data, a
    compressed or float format, 8/24/32-bit samples, more than two channels, rates outside
    8–48 kHz. Other rates are resampled and stereo is mixed down, so a speaker that records at
    44.1 kHz works unmodified."""
    if len(data) > max_bytes:
        raise AudioFormatError(f"frame of {len(data)} bytes is larger than the limit of {max_bytes}")
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFormatError("not a WAV file (no RIFF/WAVE header)")
    try:
        pcm, declared = _parse(data)
    except AudioFormatError as exc:
        raise AudioFormatError(f"unreadable WAV: {exc}") from exc
    fmt = pcm.format
    if fmt.sample_width != RECOGNISER_WIDTH:
        raise AudioFormatError(f"{fmt.sample_width * 8}-bit samples: only 16-bit PCM is accepted")
    if fmt.channels not in (1, 2):
        raise AudioFormatError(f"{fmt.channels} channels: only mono or stereo is accepted")
    if not FRAME_MIN_RATE <= fmt.sample_rate <= FRAME_MAX_RATE:
        raise AudioFormatError(f"sample rate {fmt.sample_rate} Hz is outside {FRAME_MIN_RATE}–{FRAME_MAX_RATE} Hz")
    if pcm.frames != declared:
        raise AudioFormatError(f"truncated WAV: header declares {declared} frames, {pcm.frames} present")
    if fmt == RECOGNISER_FORMAT:
        return PcmChunk(pcm.data)
    return PcmChunk(convert(pcm, RECOGNISER_FORMAT).data)


# -- conversion (numpy + soxr) ----------------------------------------------------------------
_SCALE = {1: 128.0, 2: 32768.0, 4: 2147483648.0}
_DTYPES = {1: "u1", 2: "<i2", 4: "<i4"}


def convert(pcm: Pcm, target: AudioFormat, volume: float | None = None) -> Pcm:
    """`pcm` in `target` format (channels mixed down or copied, resampled by soxr), scaled by
    `volume` (0..1; None or 1 leaves it as it is)."""
    import numpy as np
    import soxr

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


def _to_float(pcm: Pcm) -> np.ndarray[Any, Any]:
    import numpy as np

    width = pcm.format.sample_width
    raw = np.frombuffer(pcm.data, dtype=_DTYPES[width]).astype(np.float32)
    if width == 1:
        raw -= 128.0
    return (raw / _SCALE[width]).reshape(-1, pcm.format.channels)


def _from_float(samples: np.ndarray[Any, Any], width: int) -> bytes:
    import numpy as np

    scale = _SCALE[width]
    scaled = np.clip(np.rint(samples.astype(np.float64) * scale), -scale, scale - 1)
    if width == 1:
        scaled += 128.0
    return bytes(scaled.astype(_DTYPES[width]).tobytes())
