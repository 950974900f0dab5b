"""The interface every speech engine offers, and its one error."""

from __future__ import annotations

from typing import Protocol

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

    async def synthesize(self, text: str) -> Pcm:
        """Speak `text` and return the audio in the engine's own format."""
        ...
