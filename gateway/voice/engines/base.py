"""The speech-recogniser interface. Engines are blocking libraries: the voice part calls them
from its ASR thread pool, never on the event loop.

One `AsrEngine` per process holds the model (loaded once); each active site gets its own
`Recogniser` from it. A recogniser collects one utterance's audio with `accept()` and decodes
it in `finish()` against the grammar compiled from the skills' sentences; `dictate()` decodes
the same audio again without the grammar (open dictation), where the engine has it.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Collection, Mapping
from typing import Protocol

from gateway.voice.nlu.expand import GrammarSource


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    confidence: float  # 0..1
    audio_s: float
    decode_s: float
    dictation: bool = False
    # Next-best readings, best first (engines with n-best output): the first that is a whole
    # sentence of the skills wins over a best reading that is not.
    alternatives: tuple[str, ...] = ()
    # The open-vocabulary pass over the same audio (PocketSphinx: a word-pair model of the
    # sentences), made when the grammar pass gave no confident sentence; its text is matched
    # fuzzily (understand.py).
    fallback: Transcript | None = None
    # A grammar pass ran beside the open pass (its text may be empty: it found no sentence), so
    # the two passes can check each other (understand.py).
    grammar_pass: bool = False
    # PocketSphinx: how much worse per frame (log score x1000) the words fit the audio than a free
    # phone loop (None: not measured, or the words could not be aligned), and the utterance's
    # speech-to-background level (dB). The calibrated decision reads them (engines/decision.py).
    phone_gap: float | None = None
    snr_db: float | None = None

    @property
    def rtf(self) -> float:
        return self.decode_s / self.audio_s if self.audio_s > 0 else 0.0


class EngineError(RuntimeError):
    """The engine cannot start (model missing, grammar rejected)."""


class Recogniser(Protocol):
    def accept(self, pcm: bytes) -> None:
        """Add 16 kHz mono 16-bit PCM to the current utterance."""

    def snapshot(self) -> None:
        """Decode what was accepted so far and keep the result (speculation during the trailing
        silence); engines that decode as audio arrives do nothing."""

    def finish(self, use_snapshot: bool = False) -> Transcript:
        """Decode the utterance against the grammar – or, with `use_snapshot`, return the snapshot's
        result (only silence came after it); the recogniser is ready for the next one."""

    def dictate(self) -> Transcript | None:
        """Decode the last finished utterance without the grammar, or None if unsupported."""

    def reset(self) -> None:
        """Drop the current utterance (barge-in, abort)."""

    def close(self) -> None:
        """The site is done with it: back to the engine's pool."""


class ReadingModel(Protocol):
    """What the engine's passes are weighed with (engines/decision.py's DecisionModel): a
    reading's features in, its probability of being right out."""

    def probability(self, values: Mapping[str, float]) -> float: ...

    @property
    def reads_keywords(self) -> bool:
        """Fitted with the open pass's key-word readings as candidates too."""
        ...


class AsrEngine(Protocol):
    name: str
    unknown_words: set[str]
    min_confidence: float  # transcripts below it are not turned into intents

    @property
    def decision(self) -> ReadingModel | None:
        """How the engine's passes become one reading (engines/decision.py); None: hand-set factors."""
        ...

    def recogniser(self, intents: Collection[str] | None = None) -> Recogniser:
        """`intents`: the turn's intent filter; an engine may restrict its grammar to them."""
        ...


class PcmBuffer:
    """The utterance's audio, kept in memory only (never written anywhere)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self.size = 0

    def append(self, pcm: bytes) -> None:
        self._chunks.append(pcm)
        self.size += len(pcm)

    def peek(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks = [data] if data else []
        return data

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks, self.size = [], 0
        return data

    @property
    def seconds(self) -> float:
        return self.size / 32000


def grammar_words(source: GrammarSource) -> set[str]:
    from gateway.voice.nlu.expand import words_of

    words: set[str] = set()
    for template in source.templates:
        words |= words_of(template.expression, source.rules, source.lists)
    return words
