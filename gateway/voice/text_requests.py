"""Text from someone else's recogniser or keyboard (Hermes `nlu/query`, Home Assistant's Assist
over Wyoming), understood as customers word it and judged by the effect guard.

Such text is the customer's own wording, not one of our grammar's sentences, so it is read by
`Matcher.match_text` (polite wrappers, fuzzy skips, the skills' key words), as open dictation
is. A key-word reading is never sure enough for an effectful intent (`keywords.CEILING` is
below `voice.guard.effectful_min_confidence`): the guard decides what may be acted on, as for a
spoken turn (nlu/guard.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gateway.voice.nlu.guard import Verdict, judge
from gateway.voice.nlu.match import IntentMatch, Matcher
from gateway.voice.settings import GuardSettings


@dataclass(frozen=True, slots=True)
class TextReading:
    match: IntentMatch | None  # the best reading, whatever the verdict (None: nothing fits)
    verdict: Verdict
    reason: str

    @property
    def acted_on(self) -> IntentMatch | None:
        """The intent the guard lets through, or None."""
        return self.match if self.verdict is Verdict.ACT else None


def read_text(matcher: Matcher, text: str, intent_filter: list[str] | None, guard: GuardSettings) -> TextReading:
    match = matcher.match_text(text, intent_filter, guard.max_skips)
    if match is None:
        return TextReading(None, Verdict.REJECT, "no sentence and no key words fit")
    judgement = judge(match, guard.policy(matcher.effectful), matcher.lists)
    return TextReading(match, judgement.verdict, judgement.reason)


# A question asked back over a one-turn transport is answered within this long, or forgotten:
# a "yes" an hour later is not an answer to it.
ANSWER_WITHIN_S = 60.0
MAX_PENDING = 1000  # questions open at once; beyond it the oldest is forgotten


class PendingQuestions:
    """Questions asked back over a transport without sessions (Wyoming `handle`): the key given
    with the question, the intents its answer may be (the intent itself, yes, no) and when it was
    asked. The guard's own memory of what was asked is effects.py's, under the same key."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._open: dict[str, tuple[tuple[str, ...], float]] = {}

    def remember(self, key: str, answers: Sequence[str]) -> None:
        if len(self._open) >= MAX_PENDING:
            self._open.pop(next(iter(self._open)))
        self._open[key] = (tuple(answers), self._clock())

    def answering(self, key: str | None) -> tuple[str, ...]:
        """The intents that answer the question `key` (taken: a question is answered once), or ()."""
        pending = self._open.pop(key, None) if key is not None else None
        if pending is None or self._clock() - pending[1] > ANSWER_WITHIN_S:
            return ()
        return pending[0]
