"""From a finished utterance to a transcript and an intent.

1. The grammar pass: the recogniser's sentence (and its n-best readings) must match a template
   whole. Its confidence is the recogniser's acoustic confidence.
2. When that gives no sentence sure enough, the open-vocabulary pass (the recogniser's
   `fallback`: PocketSphinx's word-pair model of the sentences; Vosk's or PocketSphinx's open
   dictation where `dictation` is on) is matched fuzzily: up to `max_skips` words of it may be
   left unexplained, and the confidence is the share explained × its acoustic confidence.
The better of the two wins; what is then done with it (act, ask back, reject) is the guard's
decision (nlu/guard.py), not this module's.
"""

from __future__ import annotations

import asyncio
import dataclasses
from concurrent.futures import Executor

from gateway.voice.engines.base import Transcript
from gateway.voice.language import LanguageKit
from gateway.voice.listener import Listening, finish
from gateway.voice.nlu.match import IntentMatch, Matcher


# Open dictation that carries no score of its own (PocketSphinx's English model) counts as this
# sure: enough for ordinary intents, never alone for effectful ones (their threshold is higher).
UNSCORED_DICTATION = 0.6


def _scaled(match: IntentMatch | None, acoustic: float) -> IntentMatch | None:
    if match is None:
        return None
    return dataclasses.replace(match, confidence=round(match.confidence * acoustic, 4))


def match_transcript(
    matcher: Matcher, transcript: Transcript, intent_filter: list[str] | None, min_acoustic: float, max_skips: int = 0
) -> IntentMatch | None:
    """The grammar pass's sentence (or an n-best reading) matched whole; then the open pass's
    text matched fuzzily where it does better."""
    match = None
    if transcript.confidence >= min_acoustic or transcript.dictation:
        for reading in (transcript.text, *transcript.alternatives):
            match = matcher.match(reading, intent_filter, max_skips if transcript.dictation else 0)
            if match is not None:
                break
        match = _scaled(match, transcript.confidence if not transcript.dictation or transcript.confidence > 0 else UNSCORED_DICTATION)
    fallback = transcript.fallback
    if fallback is not None and fallback.text and fallback.confidence > 0:
        fuzzy = _scaled(matcher.match(fallback.text, intent_filter, max_skips), fallback.confidence)
        if fuzzy is not None and (match is None or fuzzy.confidence > match.confidence):
            match = fuzzy
    return match


async def understand(
    kit: LanguageKit, listening: Listening, pool: Executor, intent_filter: list[str] | None, min_confidence: float, max_skips: int = 2
) -> tuple[Transcript, IntentMatch | None]:
    transcript = await finish(listening, pool)
    match = match_transcript(kit.matcher, transcript, intent_filter, kit.engine.min_confidence, max_skips)
    if match is None and kit.dictation and listening.recogniser is not None:
        free = await asyncio.get_running_loop().run_in_executor(pool, listening.recogniser.dictate)
        if free is not None and free.text:
            transcript = Transcript(free.text, free.confidence, transcript.audio_s, transcript.decode_s + free.decode_s, True)
            match = match_transcript(kit.matcher, transcript, intent_filter, kit.engine.min_confidence, max_skips)
    if match is not None and match.confidence < min_confidence:
        match = None
    if match is not None and match.text != transcript.text:
        transcript = dataclasses.replace(transcript, text=match.text)  # the reading understood (n-best, open pass)
    return transcript, match
