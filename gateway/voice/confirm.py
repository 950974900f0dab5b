"""The confirmation step before anything irreversible a voice can trigger ("forget me").

A skill's handler asks (`Reply.confirm` names the intent that means yes, e.g. `ConfirmErase` for
"yes, delete"); the dialogue manager then listens for that intent only (a Hermes
`continueSession` with that intent filter) and remembers here what waits for the yes: the
session, the customer bound to it, and the intent that asked. The customer's next turn decides:

- a clear yes (the yes intent, recognised at or above `min_confidence`) in the same session
  with the same customer still bound runs the asking handler again with `confirmed=True`;
- anything else cancels: another intent, nothing recognised, a yes heard without confidence,
  a new tap (another customer) in between, the session ending (timeout, barge-in by a new wake
  word, endSession). Nothing waits across sessions.

Pure: no I/O. This is also the one confirmation step the low-confidence effect guard defers
to for such intents (docs/privacy.md, "Confirmation").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateway.voice.nlu.match import IntentMatch
from gateway.voice.session import Session

MAX_PENDING = 1000  # sessions waiting for a yes at once; beyond it the oldest is cancelled


class Answer(StrEnum):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Pending:
    customer_id: str
    asked: IntentMatch  # the intent that asked; it runs again, confirmed, on a clear yes
    yes_intent: str


@dataclass(frozen=True, slots=True)
class Decision:
    answer: Answer
    pending: Pending
    reason: str


class Confirmations:
    def __init__(self, min_confidence: float) -> None:
        self._min_confidence = min_confidence
        self._pending: dict[str, Pending] = {}  # session id → what waits for its yes

    def ask(self, session: Session, asked: IntentMatch, yes_intent: str) -> bool:
        """Wait for the yes in this session; False (nothing waits) when no customer is bound:
        an erasure without a known customer has nobody to erase."""
        if session.customer_id is None:
            return False
        if len(self._pending) >= MAX_PENDING:
            self._pending.pop(next(iter(self._pending)))
        self._pending[session.session_id] = Pending(session.customer_id, asked, yes_intent)
        return True

    def waiting(self, session_id: str) -> bool:
        return session_id in self._pending

    def answer(self, session: Session, match: IntentMatch | None) -> Decision | None:
        """The session's turn after the question: confirmed or cancelled (and forgotten either
        way); None when nothing waited in this session. The match's confidence is the one the
        understanding step gives (the recogniser's acoustic gate has already been passed)."""
        pending = self._pending.pop(session.session_id, None)
        if pending is None:
            return None
        if session.customer_id != pending.customer_id:
            return Decision(Answer.CANCELLED, pending, "the customer bound to the session changed")
        if match is None or match.intent != pending.yes_intent:
            return Decision(Answer.CANCELLED, pending, "the answer was not a yes")
        if match.confidence < self._min_confidence:
            return Decision(Answer.CANCELLED, pending, f"a yes heard at {match.confidence:.2f} < {self._min_confidence:.2f}")
        return Decision(Answer.CONFIRMED, pending, "a clear yes")

    def forget(self, session_id: str) -> None:
        """The session ended: whatever waited for its yes is cancelled."""
        self._pending.pop(session_id, None)
