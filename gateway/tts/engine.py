"""The interface every speech engine offers, and its one error."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Protocol, runtime_checkable

from gateway.audio import Pcm
from gateway.ports import SpeechFailed


class SynthesisError(SpeechFailed):
    """The engine could not speak this text (engine missing, crashed, timed out, bad output)."""


class TtsEngine(Protocol):
    @property
    def name(self) -> str:
        """The engine's name ("espeak-ng", "piper"), for logs and benchmarks."""
        ...

    @property
    def voice_key(self) -> str:
        """Identifies engine, voice and voice parameters: two engines with the same key produce
        the same audio for the same text (the reply cache relies on it)."""
        ...

    async def start(self) -> None:
        """Load what the engine needs (a model) before the first request; raise SynthesisError
        when it cannot work at all."""
        ...

    def stream(self, text: str) -> AsyncGenerator[Pcm, None]:
        """Speak `text` as chunks in the engine's own format, in order (Piper: one per sentence,
        each ready as soon as it is synthesised; espeak-ng: one). Nothing more is synthesised
        than the reader asks for: closing the iterator early stops the rest. All chunks of one
        text share one format."""
        ...


async def synthesize_whole(engine: TtsEngine, text: str) -> Pcm:
    """The engine's chunks of `text` joined into one Pcm."""
    async with aclosing(engine.stream(text)) as chunks:
        pieces = [chunk async for chunk in chunks]
    return join_pcm(pieces)


def join_pcm(pieces: list[Pcm]) -> Pcm:
    if not pieces:
        raise SynthesisError("the engine produced no audio")
    audio_format = pieces[0].format
    if any(piece.format != audio_format for piece in pieces):
        raise SynthesisError("the engine changed its audio format within one reply")
    return Pcm(b"".join(piece.data for piece in pieces), audio_format)


@runtime_checkable
class BackgroundSynthesis(Protocol):
    """An engine slow enough that replies are worth making ahead (gateway/tts/prepare.py), and
    that can do it at low CPU priority beside its ordinary work, so the replies made ahead do not
    slow those customers wait for: Piper. espeak-ng speaks a reply in ~10 ms: its replies stay
    one part each and nothing is made ahead for it."""

    async def synthesize_in_background(self, text: str) -> Pcm:
        """The whole of `text`, in one piece, at the lowest CPU priority."""
        ...


def worth_making_ahead(engine: TtsEngine) -> bool:
    return isinstance(engine, BackgroundSynthesis)
