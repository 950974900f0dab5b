"""PCM audio and WAV files, stdlib only.

espeak-ng writes its WAV header before it knows the length (`--stdout` streams), so the RIFF and
data sizes it writes are placeholders; `read_wav` trusts the bytes actually present instead.
"""

from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass

_PCM = 1
_EXTENSIBLE = 0xFFFE


class WavError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class AudioFormat:
    sample_rate: int
    sample_width: int  # bytes per sample: 1 (unsigned), 2 or 4 (signed little-endian)
    channels: int

    @property
    def frame_bytes(self) -> int:
        return self.sample_width * self.channels


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


def read_wav(data: bytes) -> Pcm:
    """Parse a PCM WAV file. Chunk sizes that run past the end (streamed headers) are cut to the
    bytes present; anything but integer PCM is refused."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavError("not a RIFF/WAVE file")
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
                raise WavError("data chunk before fmt chunk")
            usable = len(body) - len(body) % fmt.frame_bytes
            return Pcm(bytes(body[:usable]), fmt)
        offset = body_start + size + (size & 1)  # chunks are padded to even sizes
    raise WavError("no data chunk")


def _parse_fmt(body: bytes) -> AudioFormat:
    if len(body) < 16:
        raise WavError("fmt chunk too short")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
    if tag not in (_PCM, _EXTENSIBLE):
        raise WavError(f"unsupported WAV encoding {tag:#x}: integer PCM only")
    if bits not in (8, 16, 32) or not 1 <= channels <= 8 or not 1000 <= rate <= 384_000:
        raise WavError(f"unsupported format: {bits} bits, {channels} channels, {rate} Hz")
    return AudioFormat(rate, bits // 8, channels)


def write_wav(pcm: Pcm) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(pcm.format.channels)
        wav.setsampwidth(pcm.format.sample_width)
        wav.setframerate(pcm.format.sample_rate)
        wav.writeframes(pcm.data)
    return out.getvalue()
