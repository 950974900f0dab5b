"""Wyoming audio in and out: whatever format a peer declares, converted by the project's one
resampler (`gateway.audio.convert`, soxr) to the recognisers' 16 kHz mono 16-bit, and replies cut
into chunks in the format a speaker plays (between the audio-start and audio-stop its sender
writes, since a streamed reply's parts arrive one by one)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from wyoming.audio import AudioChunk
from wyoming.event import Event

from gateway.audio import FRAME_MAX_RATE, FRAME_MIN_RATE, RECOGNISER_FORMAT, AudioFormat, Pcm, convert
from gateway.wyoming.framing import ProtocolError

MIN_RATE, MAX_RATE = FRAME_MIN_RATE, FRAME_MAX_RATE  # as for a Hermes frame
CHUNK_SAMPLES = 1024  # per audio-chunk sent: wyoming-satellite's own chunk size


def declared_format(data: dict[str, Any]) -> AudioFormat:
    """The format of an audio-start or audio-chunk event, or ProtocolError saying what is wrong."""
    try:
        rate, width, channels = int(data["rate"]), int(data["width"]), int(data["channels"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"audio event needs integer rate, width and channels ({exc})") from exc
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ProtocolError(f"sample rate {rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")
    if width not in (1, 2, 4):
        raise ProtocolError(f"sample width {width} bytes: 1, 2 or 4 are accepted")
    if channels not in (1, 2):
        raise ProtocolError(f"{channels} channels: mono or stereo are accepted")
    return AudioFormat(rate, width, channels)


def chunk_to_recogniser(event: Event) -> bytes:
    """An audio-chunk event's samples as 16 kHz mono 16-bit PCM."""
    audio_format = declared_format(event.data)
    audio = event.payload or b""
    if len(audio) % audio_format.frame_bytes:
        raise ProtocolError(f"audio chunk of {len(audio)} bytes is not whole {audio_format.frame_bytes}-byte frames")
    return convert(Pcm(audio, audio_format), RECOGNISER_FORMAT).data


def chunk_events(pcm: Pcm, target: AudioFormat) -> Iterator[Event]:
    """One part of a reply (a streamed reply sends its parts between one audio-start and
    audio-stop) as audio-chunks of `target` format."""
    out = convert(pcm, target)
    rate, width, channels = target.sample_rate, target.sample_width, target.channels
    step = CHUNK_SAMPLES * target.frame_bytes
    for start in range(0, len(out.data), step):
        yield AudioChunk(rate=rate, width=width, channels=channels, audio=out.data[start : start + step]).event()
