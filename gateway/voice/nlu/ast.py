"""The parsed form of a sentence template."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Word:
    spoken: str  # one token as said ("today's")
    value: str | None = None  # substitution: `ten:10` says "ten", means "10"; `:` alone drops it


@dataclass(frozen=True, slots=True)
class Sequence:
    items: tuple[Node, ...]
    value: str | None = None  # substitution for the whole group: `(the milk):milk`


@dataclass(frozen=True, slots=True)
class Alternatives:
    options: tuple[Node, ...]
    value: str | None = None


@dataclass(frozen=True, slots=True)
class Optional:
    item: Node


@dataclass(frozen=True, slots=True)
class SlotRef:
    """`{list}` or `{list:slot_name}`: one value of a slot list, captured as a slot."""

    list_name: str
    slot_name: str


@dataclass(frozen=True, slots=True)
class RuleRef:
    """`<rule>`: the expression of a rule defined in the same file (`rule = ...`)."""

    name: str


Node = Word | Sequence | Alternatives | Optional | SlotRef | RuleRef


@dataclass(frozen=True, slots=True)
class SlotValue:
    """One value of a slot list: the words said and the value meant (an id, a number…)."""

    spoken: Node
    value: str | int | None  # None: the spoken words themselves


@dataclass(frozen=True, slots=True)
class Template:
    intent: str
    expression: Sequence
    source: str  # file:line, for errors
    text: str
