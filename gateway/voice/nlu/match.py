"""Matching recognised text against compiled templates: the intent, its slots, a confidence.

The whole input must be explained by one template; anything else is "not recognised" (never
the nearest wrong intent). Matching backtracks over optional words and alternatives, so every
reading of a template is tried.

Fuzzy matching (`max_skips` > 0), for text from an open-vocabulary pass: words of the input that
no template word explains may be skipped, each at a cost of one, the way Home Assistant's
speech-to-phrase lets its fuzzy FST delete transcript words. The template itself is never
shortened: every word it needs must be heard, so a fragment cannot grow into a sentence it only
resembles. The cheapest whole-template explanation wins; its confidence is the share of the
input's words it explains.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from gateway.voice.nlu.ast import Alternatives, Node, Optional, RuleRef, Sequence, SlotRef, SlotValue, Template, Word
from gateway.voice.nlu.keywords import TEMPLATE_NAME, KeywordClassifier

_WORD = re.compile(r"[\w']+", re.UNICODE)


# Hesitations carry no meaning in any sentence: dropped before matching, in every language.
FILLERS = frozenset({"uh", "um", "uhm", "er", "erm", "hmm", "ah", "äh", "ähm", "öhm", "hm"})


# Spellings of a word the recognisers' dictionaries do not have, as the sentences spell it.
SPELLINGS = {"yoghurt": "yogurt", "yoghurts": "yogurt", "yogurts": "yogurt"}


def tokenise(text: str) -> list[str]:
    said = (w.strip("'") for w in _WORD.findall(text.lower()))
    return [SPELLINGS.get(t, t) for t in said if t and t not in FILLERS]


# Polite wrappers around a request, in every language: they mean nothing in any sentence, so a
# sentence wrapped in them ("sorry, could you tell me where the milk is, thanks") is still that
# sentence, whole. Stripped from text (`match_text`) only where the whole text is no sentence;
# `match` (the recognisers' output) stays strict, and the grammar is not grown by them.
OPENERS = tuple(tuple(p.split()) for p in (
    "excuse me", "sorry", "hello", "hello there", "hi", "hi there", "hey", "okay", "ok", "so", "well", "oh", "yes",
    "good morning", "good afternoon", "good evening", "quick question", "please", "um excuse me",
    "can you tell me", "could you tell me", "can you please tell me", "could you please tell me", "tell me",
    "do you know", "would you know", "i was wondering", "i wonder", "i'd like to know", "i want to know",
    "entschuldigung", "entschuldigen sie", "hallo", "guten tag", "guten morgen", "moin", "servus", "grüß gott",
    "sag mal", "sagen sie mal", "sagen sie", "sag", "weißt du", "wissen sie", "können sie mir sagen",
    "kannst du mir sagen", "könnten sie mir sagen", "also", "ja", "bitte", "eine frage", "kurze frage",
))
CLOSERS = tuple(tuple(p.split()) for p in (
    "please", "thanks", "thank you", "thank you very much", "thanks a lot", "cheers", "if you know", "mate",
    "bitte", "danke", "danke schön", "bitte schön", "vielen dank",
))
# Particles said inside a request that change nothing ("kannst du mal …", "can you please …").
PARTICLES = frozenset({"please", "bitte", "mal", "denn", "eigentlich", "just", "kindly"})


def strip_wrappers(tokens: list[str]) -> list[str]:
    """`tokens` without leading openers, trailing closers and inner particles (longest first)."""
    start, end = 0, len(tokens)
    changed = True
    while changed:
        changed = False
        for phrase in sorted(OPENERS, key=len, reverse=True):
            if tuple(tokens[start : start + len(phrase)]) == phrase and start + len(phrase) < end:
                start, changed = start + len(phrase), True
                break
        for phrase in sorted(CLOSERS, key=len, reverse=True):
            if end - len(phrase) > start and tuple(tokens[end - len(phrase) : end]) == phrase:
                end, changed = end - len(phrase), True
                break
    return [t for t in tokens[start:end] if t not in PARTICLES] or tokens[start:end]


@dataclass(frozen=True, slots=True)
class SlotMatch:
    name: str
    list_name: str
    value: str | int
    raw: str
    start_token: int
    end_token: int  # exclusive


@dataclass(frozen=True, slots=True)
class IntentMatch:
    intent: str
    tokens: tuple[str, ...]
    slots: tuple[SlotMatch, ...]
    confidence: float
    template: str

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


@dataclass
class _State:
    pos: int
    meaning: list[str] = field(default_factory=list)
    slots: list[SlotMatch] = field(default_factory=list)
    skipped: int = 0


@dataclass
class Matcher:
    templates: list[Template]
    rules: Mapping[str, Node]
    lists: Mapping[str, list[SlotValue]]
    effectful: frozenset[str] = frozenset()  # intents that change something (nlu/guard.py)
    answers: frozenset[str] = frozenset()  # matched only where the intent filter names them (yes, no)
    keywords: KeywordClassifier | None = None  # the fallback for text no template parses (match_text)

    @property
    def intents(self) -> list[str]:
        """Every intent with a sentence, answers included (an intent filter that lets all through)."""
        return sorted({t.intent for t in self.templates})

    def match(self, text: str, intent_filter: list[str] | None = None, max_skips: int = 0) -> IntentMatch | None:
        """The template that explains `text` whole, or with the fewest skipped words (at most
        `max_skips`); None when none does."""
        tokens = tokenise(text)
        if not tokens:
            return None
        best: IntentMatch | None = None
        best_skipped = max_skips + 1
        for budget in sorted({0, max_skips}):
            for template in self.templates:
                if (template.intent not in intent_filter) if intent_filter else (template.intent in self.answers):
                    continue
                for state in self._walk(template.expression, tokens, _State(0), budget):
                    skipped = state.skipped + len(tokens) - state.pos  # trailing words are skipped too
                    if skipped < best_skipped:
                        confidence = round(1.0 - skipped / len(tokens), 4)
                        best = IntentMatch(template.intent, tuple(tokens), tuple(state.slots), confidence, template.text)
                        best_skipped = skipped
                        if skipped == 0:
                            return best
            # No exact match: the wider budget may explain the words with fewer skips than a
            # shorter template leaving trailing words unexplained ("call a staff [x] member").
        return best

    def match_text(self, text: str, intent_filter: list[str] | None = None, max_skips: int = 2) -> IntentMatch | None:
        """Text as customers word it (typed, or open dictation; not a grammar's output): a
        template whole or fuzzily (`match`), else the skills' key words (`nlu/keywords.py`),
        whose confidence is at most `keywords.CEILING`: never enough to act on an effectful
        intent (the guard asks back)."""
        return self.match_beyond(text, self.match(text, intent_filter, max_skips), intent_filter)

    def match_beyond(self, text: str, found: IntentMatch | None, intent_filter: list[str] | None = None) -> IntentMatch | None:
        """match_text's reading past `found`, the fuzzy match of `text` the caller already has
        (`match(text, intent_filter, max_skips)`): not computed twice where it is needed apart."""
        if found is None or found.confidence < 1.0:
            # the sentence inside polite wrappers, whole ("sorry, could you tell me …, thanks")
            core = strip_wrappers(tokenise(text))
            wrapped = self.match(" ".join(core), intent_filter, 0) if core else None
            found = wrapped if wrapped is not None else found
        if self.keywords is None or (found is not None and found.confidence == 1.0):
            return found
        if found is not None:
            # A skipped word no sentence has ("have you got *peanut* butter", "wann öffnet die
            # *post*") is likely what the request is about: it counts twice.
            unknown = sum(1 for t in found.tokens if t not in self.keywords.vocabulary)
            found = dataclasses.replace(found, confidence=round(max(0.0, found.confidence - unknown / len(found.tokens)), 4))
        tokens = strip_wrappers(tokenise(text))
        allowed = intent_filter if intent_filter else [i for i in self.intents if i not in self.answers]
        hit = self.keywords.classify(tokens, self.lists, allowed)
        if hit is None or (found is not None and found.confidence >= hit.confidence):
            return found
        slots: tuple[SlotMatch, ...] = ()
        if hit.slot is not None:
            list_name, slot_name, value, raw, start, end = hit.slot
            slots = (SlotMatch(slot_name, list_name, value, raw, start, end),)
        return IntentMatch(hit.intent, tuple(tokens), slots, hit.confidence, TEMPLATE_NAME)

    def _walk(self, node: Node, tokens: list[str], state: _State, budget: int) -> Iterator[_State]:
        match node:
            case Word(spoken=spoken, value=value):
                for skip in range(budget - state.skipped + 1):
                    at = state.pos + skip
                    if at < len(tokens) and tokens[at] == spoken:
                        meaning = state.meaning + ([value] if value else [] if value == "" else [spoken])
                        yield _State(at + 1, meaning, state.slots, state.skipped + skip)
            case Sequence(items=items, value=value):
                for end in self._sequence(items, 0, tokens, _State(state.pos, [], state.slots, state.skipped), budget):
                    yield _State(end.pos, state.meaning + _substituted(end.meaning, value), end.slots, end.skipped)
            case Alternatives(options=options, value=value):
                for option in options:
                    for end in self._walk(option, tokens, _State(state.pos, [], state.slots, state.skipped), budget):
                        yield _State(end.pos, state.meaning + _substituted(end.meaning, value), end.slots, end.skipped)
            case Optional(item=item):
                yield from self._walk(item, tokens, state, budget)
                yield state
            case RuleRef(name=name):
                yield from self._walk(self.rules[name], tokens, state, budget)
            case SlotRef(list_name=list_name, slot_name=slot_name):
                # Words may be skipped before a value, never inside it: a value is heard whole.
                for skip in range(budget - state.skipped + 1):
                    start, skipped = state.pos + skip, state.skipped + skip
                    for candidate in self.lists.get(list_name, ()):
                        for end in self._walk(candidate.spoken, tokens, _State(start, [], state.slots, skipped), skipped):
                            raw = " ".join(tokens[start : end.pos])
                            slot_value: str | int = candidate.value if candidate.value is not None else " ".join(end.meaning)
                            slot = SlotMatch(slot_name, list_name, slot_value, raw, start, end.pos)
                            yield _State(end.pos, state.meaning + [str(slot_value)], end.slots + [slot], end.skipped)

    def _sequence(self, items: tuple[Node, ...], index: int, tokens: list[str], state: _State, budget: int) -> Iterator[_State]:
        if index == len(items):
            yield state
            return
        for after in self._walk(items[index], tokens, state, budget):
            yield from self._sequence(items, index + 1, tokens, after, budget)


def _substituted(meaning: list[str], value: str | None) -> list[str]:
    if value is None:
        return meaning
    return [value] if value else []


def char_range(tokens: tuple[str, ...], start: int, end: int) -> tuple[int, int]:
    """Character offsets of tokens[start:end] in " ".join(tokens)."""
    begin = sum(len(t) + 1 for t in tokens[:start])
    length = len(" ".join(tokens[start:end]))
    return begin, begin + length
