"""Matching recognised text against compiled templates: the intent, its slots, a confidence.

The whole input must be explained by one template; anything else is "not recognised" (never
the nearest wrong intent). Matching backtracks over optional words and alternatives, so every
reading of a template is tried.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from gateway.voice.nlu.ast import Alternatives, Node, Optional, RuleRef, Sequence, SlotRef, SlotValue, Template, Word

_WORD = re.compile(r"[\w']+", re.UNICODE)


def tokenise(text: str) -> list[str]:
    return [t.strip("'") for t in _WORD.findall(text.lower()) if t.strip("'")]


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


@dataclass
class Matcher:
    templates: list[Template]
    rules: Mapping[str, Node]
    lists: Mapping[str, list[SlotValue]]

    def match(self, text: str, intent_filter: list[str] | None = None) -> IntentMatch | None:
        tokens = tokenise(text)
        if not tokens:
            return None
        for template in self.templates:
            if intent_filter and template.intent not in intent_filter:
                continue
            for state in self._walk(template.expression, tokens, _State(0)):
                if state.pos == len(tokens):
                    return IntentMatch(template.intent, tuple(tokens), tuple(state.slots), 1.0, template.text)
        return None

    def _walk(self, node: Node, tokens: list[str], state: _State) -> Iterator[_State]:
        match node:
            case Word(spoken=spoken, value=value):
                if state.pos < len(tokens) and tokens[state.pos] == spoken:
                    meaning = state.meaning + ([value] if value else [] if value == "" else [spoken])
                    yield _State(state.pos + 1, meaning, state.slots)
            case Sequence(items=items, value=value):
                for end in self._sequence(items, 0, tokens, _State(state.pos, [], state.slots)):
                    yield _State(end.pos, state.meaning + _substituted(end.meaning, value), end.slots)
            case Alternatives(options=options, value=value):
                for option in options:
                    for end in self._walk(option, tokens, _State(state.pos, [], state.slots)):
                        yield _State(end.pos, state.meaning + _substituted(end.meaning, value), end.slots)
            case Optional(item=item):
                yield from self._walk(item, tokens, state)
                yield state
            case RuleRef(name=name):
                yield from self._walk(self.rules[name], tokens, state)
            case SlotRef(list_name=list_name, slot_name=slot_name):
                for candidate in self.lists.get(list_name, ()):
                    for end in self._walk(candidate.spoken, tokens, _State(state.pos, [], state.slots)):
                        raw = " ".join(tokens[state.pos : end.pos])
                        slot_value: str | int = candidate.value if candidate.value is not None else " ".join(end.meaning)
                        slot = SlotMatch(slot_name, list_name, slot_value, raw, state.pos, end.pos)
                        yield _State(end.pos, state.meaning + [str(slot_value)], end.slots + [slot])

    def _sequence(self, items: tuple[Node, ...], index: int, tokens: list[str], state: _State) -> Iterator[_State]:
        if index == len(items):
            yield state
            return
        for after in self._walk(items[index], tokens, state):
            yield from self._sequence(items, index + 1, tokens, after)


def _substituted(meaning: list[str], value: str | None) -> list[str]:
    if value is None:
        return meaning
    return [value] if value else []


def char_range(tokens: tuple[str, ...], start: int, end: int) -> tuple[int, int]:
    """Character offsets of tokens[start:end] in " ".join(tokens)."""
    begin = sum(len(t) + 1 for t in tokens[:start])
    length = len(" ".join(tokens[start:end]))
    return begin, begin + length
