"""From a finished utterance to a transcript and an intent.

1. The grammar pass: the recogniser's sentence (and its n-best readings) must match a template
   whole. Its confidence is the recogniser's acoustic confidence.
2. The open-vocabulary pass (the recogniser's `fallback`: PocketSphinx's language model of the
   sentences; Vosk's or PocketSphinx's open dictation where `dictation` is on) is matched
   fuzzily: up to `max_skips` words of it may be left unexplained, and the confidence is the
   share explained × its acoustic confidence.
Where both passes ran over the same audio (PocketSphinx), a calibrated model weighs what both
measured and gives the likeliest reading its probability of being right (engines/decision.py);
without a model, they check each other by hand-set factors (`PassPolicy`); where only one pass
ran, the better reading wins. What is then done with it (act, ask back, reject) is the guard's
decision (nlu/guard.py), not this module's.
"""

from __future__ import annotations

import asyncio
import dataclasses
from concurrent.futures import Executor

from gateway.voice.engines.base import ReadingModel, Transcript
from gateway.voice.engines.decision import OnePassAsk, candidates, decide
from gateway.voice.language import LanguageKit
from gateway.voice.listener import Listening, finish
from gateway.voice.nlu.guard import PassPolicy
from gateway.voice.nlu.match import IntentMatch, Matcher


# Open dictation that carries no score of its own (PocketSphinx's English model) counts as this
# sure: enough for ordinary intents, never alone for effectful ones (their threshold is higher).
UNSCORED_DICTATION = 0.6


def _scaled(match: IntentMatch | None, acoustic: float) -> IntentMatch | None:
    if match is None:
        return None
    return dataclasses.replace(match, confidence=round(match.confidence * acoustic, 4))


def _same(a: IntentMatch, b: IntentMatch) -> bool:
    return a.intent == b.intent and {(s.name, s.value) for s in a.slots} == {(s.name, s.value) for s in b.slots}


def match_transcript(
    matcher: Matcher, transcript: Transcript, intent_filter: list[str] | None, min_acoustic: float, passes: PassPolicy = PassPolicy(),
    decision: ReadingModel | None = None,
) -> IntentMatch | None:
    """The grammar pass's sentence (or an n-best reading) matched whole, the open pass's text
    matched fuzzily. Where both passes ran and there is a `decision` model, it chooses and its
    probability is the confidence. Without one they check each other: agreeing, the surer one
    stands; disagreeing, or where only one found an intent, it counts less (`PassPolicy`: the
    other pass heard something else in the same audio, which on the dev split was where most
    false accepts came from)."""
    if decision is not None and transcript.grammar_pass:
        found = candidates(matcher, transcript, intent_filter, passes.max_skips, decision.reads_keywords)
        floor = passes.effectful_one_pass_ask_floor
        ask = OnePassAsk(floor, passes.ask_level) if floor is not None and floor < passes.ask_level else None
        return decide(decision, found, matcher.effectful, passes.effectful_one_pass_cap if passes.effectful_needs_both else 1.0, ask)
    grammar = None
    # A grammar-pass sentence that fits the audio badly still counts where the open pass agrees.
    if transcript.confidence >= min_acoustic or transcript.dictation or transcript.grammar_pass:
        for reading in (transcript.text, *transcript.alternatives):
            # Open dictation is the customer's own wording: the key-word fallback may read it too.
            grammar = matcher.match_text(reading, intent_filter, passes.max_skips) if transcript.dictation else matcher.match(reading, intent_filter)
            if grammar is not None:
                break
        grammar = _scaled(grammar, transcript.confidence if not transcript.dictation or transcript.confidence > 0 else UNSCORED_DICTATION)
    fallback = transcript.fallback
    if fallback is None:
        return grammar
    fuzzy = None
    if fallback.text and fallback.confidence > 0:
        fuzzy = _scaled(matcher.match(fallback.text, intent_filter, passes.max_skips), fallback.confidence)
    if not transcript.grammar_pass:
        return fuzzy if grammar is None or (fuzzy is not None and fuzzy.confidence > grammar.confidence) else grammar
    if grammar is not None and fuzzy is not None:
        if _same(grammar, fuzzy):  # the grammar's reading is a whole sentence: its words are shown
            return dataclasses.replace(grammar, confidence=max(grammar.confidence, fuzzy.confidence))
        grammar, fuzzy = _scaled(grammar, passes.disagreement_factor), _scaled(fuzzy, passes.disagreement_factor)
    elif grammar is not None:
        grammar = _scaled(grammar, passes.grammar_only_factor)
        if grammar is not None and grammar.intent in matcher.effectful:
            # Something that changes things is acted on only where both passes heard it: from
            # the grammar pass alone it is asked back at most (dev split and tuning set: all 30
            # effectful intents both passes agreed on were right, the one from the grammar pass
            # alone was wrong).
            grammar = dataclasses.replace(grammar, confidence=min(grammar.confidence, passes.effectful_one_pass_cap))
    elif fuzzy is not None:
        fuzzy = _scaled(fuzzy, passes.open_only_factor)
    if grammar is None or (fuzzy is not None and fuzzy.confidence > grammar.confidence):
        return fuzzy
    return grammar


async def understand(
    kit: LanguageKit, listening: Listening, pool: Executor, intent_filter: list[str] | None, min_confidence: float, passes: PassPolicy
) -> tuple[Transcript, IntentMatch | None]:
    transcript = await finish(listening, pool)
    decision = kit.engine.decision
    match = match_transcript(kit.matcher, transcript, intent_filter, kit.engine.min_confidence, passes, decision)
    if match is None and kit.dictation and listening.recogniser is not None:
        free = await asyncio.get_running_loop().run_in_executor(pool, listening.recogniser.dictate)
        if free is not None and free.text:
            transcript = Transcript(free.text, free.confidence, transcript.audio_s, transcript.decode_s + free.decode_s, True)
            match = match_transcript(kit.matcher, transcript, intent_filter, kit.engine.min_confidence, passes, decision)
    if match is not None and match.confidence < min_confidence:
        match = None
    if match is not None and match.text != transcript.text:
        transcript = dataclasses.replace(transcript, text=match.text)  # the reading understood (n-best, open pass)
    return transcript, match
