"""From a finished utterance to a transcript and an intent: the recogniser's result (and its
n-best readings) matched against the sentences; open dictation for speech outside them where the
language's engine has it."""

from __future__ import annotations

import asyncio
import dataclasses
from concurrent.futures import Executor

from gateway.voice.engines.base import Transcript
from gateway.voice.language import LanguageKit
from gateway.voice.listener import Listening, finish
from gateway.voice.nlu.match import IntentMatch


def match_transcript(kit: LanguageKit, transcript: Transcript, intent_filter: list[str] | None, min_confidence: float) -> IntentMatch | None:
    if transcript.confidence < kit.engine.min_confidence and not transcript.dictation:
        return None
    match = kit.matcher.match(transcript.text, intent_filter)
    for reading in transcript.alternatives:
        if match is not None:
            break
        match = kit.matcher.match(reading, intent_filter)
    if match is not None and match.confidence < min_confidence:
        return None
    return match


async def understand(
    kit: LanguageKit, listening: Listening, pool: Executor, intent_filter: list[str] | None, min_confidence: float
) -> tuple[Transcript, IntentMatch | None]:
    transcript = await finish(listening, pool)
    match = match_transcript(kit, transcript, intent_filter, min_confidence)
    if match is None and kit.dictation and listening.recogniser is not None:
        free = await asyncio.get_running_loop().run_in_executor(pool, listening.recogniser.dictate)
        if free is not None and free.text:
            transcript = Transcript(free.text, free.confidence, transcript.audio_s, transcript.decode_s + free.decode_s, True)
            match = match_transcript(kit, transcript, intent_filter, min_confidence)
    if match is not None and match.text != transcript.text:
        transcript = dataclasses.replace(transcript, text=match.text)  # the reading understood (n-best)
    return transcript, match
