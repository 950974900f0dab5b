"""Sessions per site: the dialogue state machine. Pure: no I/O, no clock of its own.

    start ──▶ LISTENING ──utterance ended──▶ RECOGNISING ──intent──▶ HANDLING ──reply──▶ SPEAKING ──▶ (ended)
                 ▲                                                     │                     │
                 └──────────────── continue (ask again) ───────────────┴─────────────────────┘
    any state ──abort (barge-in, error, timeout)──▶ (ended)

One session per site at a time. A wake word on a busy site aborts the old session (barge-in,
`abortedByUser`); a `startSession` on a busy site waits in the site's queue when it may be enqueued
(`canBeEnqueued`) and starts when the site is free. A session times out after its site's
`session_timeout_s` without progress (no speech, no intent, no skill answer); while a reply is being
spoken it does not, because the TTS service always answers (played, timeout or failed).

A session is *ours* when this gateway's dialogue manager started it (wake word, startSession);
for a session started elsewhere (`asr/startListening` from another dialogue manager) the gateway
is only the recogniser and publishes `textCaptured`.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from gateway.hermes.dialogue import DialogueStartSession, TerminationReason


class Phase(StrEnum):
    LISTENING = "listening"
    RECOGNISING = "recognising"
    HANDLING = "handling"  # intent published; a built-in skill or an external one answers
    SPEAKING = "speaking"  # a reply or prompt is being played; then listen again or end
    ENDED = "ended"


class SessionError(ValueError):
    """A transition that is not allowed in the session's phase."""


@dataclass
class Session:
    site_id: str
    session_id: str
    own: bool  # started by our dialogue manager (we run NLU and skills)
    started_at: float
    lang: str
    custom_data: str | None = None
    intent_filter: list[str] | None = None
    send_intent_not_recognized: bool = False
    customer_id: str | None = None
    timeout_s: float = 30.0
    phase: Phase = Phase.LISTENING
    turns: int = 0
    touched_at: float = 0.0  # the last step forward; the timeout counts from here
    speech: int = 0  # numbers the replies spoken: only the latest one's outcome moves the session on
    termination: TerminationReason | None = None

    def __post_init__(self) -> None:
        self.touched_at = self.started_at

    def utterance_ended(self, now: float | None = None) -> None:
        self._expect(Phase.LISTENING)
        self._move(Phase.RECOGNISING, now)

    def recognised(self, now: float | None = None) -> None:
        self._expect(Phase.RECOGNISING)
        self._move(Phase.HANDLING, now)
        self.turns += 1

    def speaking(self, now: float | None = None) -> int:
        """A reply starts playing; returns its number (see `is_current_speech`)."""
        self._alive()
        self._move(Phase.SPEAKING, now)
        self.speech += 1
        return self.speech

    def is_current_speech(self, number: int) -> bool:
        return self.phase is Phase.SPEAKING and self.speech == number

    def waiting(self, now: float | None = None) -> None:
        """Waiting for someone else (an external skill): the timeout counts again from now."""
        self._alive()
        self._move(Phase.HANDLING, now)

    def listen_again(self, intent_filter: list[str] | None, now: float | None = None) -> None:
        """continueSession: ask the customer again."""
        self._alive()
        self._move(Phase.LISTENING, now)
        self.intent_filter = intent_filter

    def end(self, reason: TerminationReason) -> bool:
        """Returns False if it had ended already (so sessionEnded is published once)."""
        if self.phase is Phase.ENDED:
            return False
        self.phase, self.termination = Phase.ENDED, reason
        return True

    def expired(self, now: float) -> bool:
        return self.phase not in (Phase.SPEAKING, Phase.ENDED) and now - self.touched_at > self.timeout_s

    def _move(self, phase: Phase, now: float | None) -> None:
        self.phase = phase
        if now is not None:
            self.touched_at = now

    def _alive(self) -> None:
        if self.phase is Phase.ENDED:
            raise SessionError(f"session {self.session_id} has ended")

    def _expect(self, phase: Phase) -> None:
        if self.phase is not phase:
            raise SessionError(f"session {self.session_id} is {self.phase.value}, not {phase.value}")


@dataclass(frozen=True, slots=True)
class QueuedStart:
    """A startSession waiting for its busy site; its session id is given (and announced) now."""

    session_id: str
    request: DialogueStartSession


@dataclass
class SessionTable:
    """The sessions of all sites, by site and by id, and the starts queued per site."""

    by_site: dict[str, Session] = field(default_factory=dict)
    queued: dict[str, deque[QueuedStart]] = field(default_factory=dict)

    def start(
        self, site_id: str, now: float, lang: str, *, own: bool, session_id: str | None = None, **options: object
    ) -> tuple[Session, Session | None]:
        """A new session on the site; returns it and the session it aborted (barge-in), if any."""
        previous = self.by_site.pop(site_id, None)
        if previous is not None and not previous.end(TerminationReason.ABORTED_BY_USER):
            previous = None
        session = Session(site_id, session_id or str(uuid.uuid4()), own, now, lang, **options)  # type: ignore[arg-type]
        self.by_site[site_id] = session
        return session, previous

    def get(self, session_id: str) -> Session | None:
        return next((s for s in self.by_site.values() if s.session_id == session_id), None)

    def at(self, site_id: str) -> Session | None:
        return self.by_site.get(site_id)

    def finish(self, session: Session, reason: TerminationReason) -> bool:
        """End the session and forget it; False if it had ended already."""
        if self.by_site.get(session.site_id) is session:
            del self.by_site[session.site_id]
        return session.end(reason)

    def expired(self, now: float) -> list[Session]:
        return [s for s in self.by_site.values() if s.expired(now)]

    def enqueue(self, site_id: str, request: DialogueStartSession, max_queued: int) -> QueuedStart | None:
        """Queue a start for a busy site; None when the site's queue is full."""
        waiting = self.queued.setdefault(site_id, deque())
        if len(waiting) >= max_queued:
            return None
        item = QueuedStart(str(uuid.uuid4()), request)
        waiting.append(item)
        return item

    def next_queued(self, site_id: str) -> QueuedStart | None:
        """The oldest start waiting for the site, if the site is free."""
        waiting = self.queued.get(site_id)
        if site_id in self.by_site or not waiting:
            return None
        item = waiting.popleft()
        if not waiting:
            del self.queued[site_id]
        return item
