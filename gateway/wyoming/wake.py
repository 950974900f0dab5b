"""The gateway's own wake-word stage, for satellites that stream their microphone all the time.

`wyoming-satellite` in its default mode leaves the wake word to the server (its pipeline starts
at `wake`). The stream is cut into utterances by the voice part's endpointer; each short one is
decoded with a one-sentence grammar (the wake phrase) by the voice part's PocketSphinx engine,
whose posterior and phone-loop checks reject speech that is not the phrase (PocketSphinx's
keyphrase search was tried first: on the committed synthetic speech it never fired, at any
threshold). Offline, with the English model inside the pocketsphinx wheel.

A wake phrase must be followed by a short pause (as with every wake word: the satellite beeps, the
customer speaks); the request after it goes to the session the detection opens.
"""

from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import Executor
from pathlib import Path

import pocketsphinx

from gateway.voice.engines.base import EngineError
from gateway.voice.engines.pocketsphinx_engine import PocketSphinxEngine
from gateway.voice.nlu.match import FILLERS
from gateway.voice.nlu.expand import GrammarSource
from gateway.voice.nlu.ast import Template
from gateway.voice.nlu.parse import TemplateError, parse_expression
from gateway.voice.settings import EndpointSettings, PocketSphinxSettings
from gateway.voice.vad import Endpointer, VadState
from gateway.wyoming.settings import WakeSettings

PRE_ROLL_S = 0.3
BYTES_PER_S = 32_000


class WakePhraseError(ValueError):
    """A wake phrase the recogniser cannot listen for."""


def _not_in_dictionary(words: set[str]) -> set[str]:
    """The words PocketSphinx's English dictionary (in its wheel) cannot say."""
    dictionary = Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"
    with dictionary.open(encoding="utf-8") as lines:
        known = {word for line in lines if (word := line[: line.find(" ")].split("(")[0]) in words}
    return words - known


def wake_engine(settings: WakeSettings) -> PocketSphinxEngine:
    """The phrase as a one-sentence grammar (slow: call it off the event loop, once)."""
    unknown = _not_in_dictionary(set(settings.phrase.split()))
    if unknown:
        raise WakePhraseError(f"not in PocketSphinx's English dictionary: {', '.join(sorted(unknown))}")
    try:
        expression = parse_expression(settings.phrase, "wyoming.wake.phrase")
    except TemplateError as exc:
        raise WakePhraseError(str(exc)) from exc
    template = Template("wake", expression, "wyoming.wake.phrase", settings.phrase)
    try:
        engine = PocketSphinxEngine(GrammarSource([template], {}, {}, set()), PocketSphinxSettings(min_posterior=settings.min_posterior, open_pass=False), dictation=False)
    except EngineError as exc:
        raise WakePhraseError(str(exc)) from exc
    return engine


class WakeSpotter:
    """One satellite's stream → utterances → 'was it the wake phrase?'. Not thread-safe; one per stream."""

    def __init__(self, engine: PocketSphinxEngine, settings: WakeSettings, pool: Executor) -> None:
        self._engine = engine
        self._phrase = settings.phrase
        self._pool = pool
        self._endpoint = EndpointSettings(
            silence_ms=settings.pause_ms, speculate_ms=None, no_speech_timeout_s=60, max_utterance_s=settings.max_phrase_s
        )
        self._reset()

    def _reset(self) -> None:
        self._endpointer = Endpointer(self._endpoint)
        self._pre_roll: deque[bytes] = deque()
        self._speech: list[bytes] = []

    def reset(self) -> None:
        """Forget what was heard (when a session hands the stream back to the wake stage)."""
        self._reset()

    async def feed(self, pcm: bytes) -> bool:
        """True when the audio so far ended with the wake phrase and a pause."""
        state = self._endpointer.feed(pcm)
        if state is VadState.WAITING:
            self._pre_roll.append(pcm)
            while sum(map(len, self._pre_roll)) > PRE_ROLL_S * BYTES_PER_S:
                self._pre_roll.popleft()
            return False
        if self._pre_roll:
            self._speech.extend(self._pre_roll)
            self._pre_roll.clear()
        self._speech.append(pcm)
        if state is VadState.SPEECH:
            return False
        utterance = b"".join(self._speech)
        self._reset()
        if state is not VadState.ENDED:
            return False  # too long for a wake phrase, or no speech at all
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._is_phrase, utterance)

    def _is_phrase(self, pcm: bytes) -> bool:
        recogniser = self._engine.recogniser()
        try:
            recogniser.accept(pcm)
            transcript = recogniser.finish()
        finally:
            recogniser.close()
        # The grammar lets one hesitation lead ("er hey touch gate"): it is no part of the phrase.
        words = [word for word in transcript.text.split() if word not in FILLERS]
        return " ".join(words) == self._phrase and transcript.confidence >= self._engine.min_confidence
