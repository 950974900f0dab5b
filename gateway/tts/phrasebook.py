"""What the gateway will say, known before anyone asks: the reply templates the voice part hands
over at start (the `REPLY_TEMPLATES` port: its skills' and its own, gateway/voice/reply_texts.py),
and the fixed opening of each templated reply.

From each template it takes
- a **fixed reply** when the template has no slot: prepared whole, a repeat is one cache hit;
- an **opener** when it has: the text before the first slot, cut back to a word boundary
  ("You will find {name} in aisle {aisle}." → "You will find"; "... about you{points}." leaves
  "you" to the rest, since the slot is glued to it). An opener of one word is not kept ("On
  {day}" → "On" would be said as a sentence of its own). Fixed replies are openers too: "Today"
  opens "Today, we are open 8:00 to 20:00.".

`opener_of` finds the longest known opener a reply starts with, ending at a word boundary, and
the rest to synthesise after it.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

# Where a reply may be cut after an opener: a space, or a clause mark and then a space (or the end).
_BOUNDARY = re.compile(r"[,;:.!?]*(?:\s+|$)")
MIN_OPENER_WORDS = 2


@dataclass(frozen=True, slots=True)
class Opening:
    opener: str  # said first: prepared ahead, so the first audio is a cache hit
    rest: str  # synthesised while the opener plays


@dataclass
class Phrasebook:
    """Per language: the fixed replies and the openers, in the order they should be prepared."""

    fixed: dict[str, list[str]] = field(default_factory=dict)
    openers: dict[str, list[str]] = field(default_factory=dict)

    def add_template(self, language: str, template: str) -> None:
        template = " ".join(template.split())
        if not template:
            return
        try:
            pieces = list(string.Formatter().parse(template))
        except ValueError:  # not a format string after all ("{" unbalanced): said as it is
            pieces = [(template, None, None, None)]
        if all(name is None for _, name, _, _ in pieces):
            text = "".join(literal for literal, _, _, _ in pieces)  # "{{" is said as "{"
            _add(self.fixed.setdefault(language, []), text)
            _add(self.openers.setdefault(language, []), text)
            return
        opener = _cut_to_word(pieces[0][0])
        if len(opener.split()) >= MIN_OPENER_WORDS:
            _add(self.openers.setdefault(language, []), opener)

    def texts_to_prepare(self, language: str) -> list[str]:
        """Openers first (every templated reply's first audio depends on one), shortest first,
        then the fixed replies that are not openers already."""
        openers = sorted(self.openers.get(language, []), key=len)
        rest = sorted((t for t in self.fixed.get(language, []) if t not in openers), key=len)
        return openers + rest

    def opener_of(self, language: str, text: str) -> Opening | None:
        """The longest opener `text` starts with at a word boundary, with something after it."""
        best: Opening | None = None
        for opener in self.openers.get(language, []):
            if len(opener) >= len(text) or not text.startswith(opener):
                continue
            if best is not None and len(opener) <= len(best.opener):
                continue
            boundary = _BOUNDARY.match(text, len(opener))
            if boundary is None or boundary.end() == len(opener):
                continue  # mid-word: "You have" does not open "You haven't"
            rest = text[boundary.end() :].strip()
            if rest:
                best = Opening(opener, rest)
        return best


def _cut_to_word(literal: str) -> str:
    """The literal before a slot, without a word the slot is glued to."""
    if literal and not literal[-1].isspace():
        literal = literal.rsplit(None, 1)[0] if len(literal.split()) > 1 else ""
    return literal.strip()


def _add(texts: list[str], text: str) -> None:
    # A reply starts with a capital or a digit; fragments joined into replies (" to ", "none",
    # ", and a profile with {names}") do not, and are not said on their own.
    if text[:1].isupper() or text[:1].isdigit():
        if text not in texts:
            texts.append(text)
