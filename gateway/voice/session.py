"""Sessions per site: the dialogue state machine. Pure: no I/O, no clock of its own.

    IDLE ──start──▶ LISTENING ──utterance ended──▶ RECOGNISING ──intent──▶ HANDLING ──reply──▶ (ended)
                       ▲                                                   │
                       └──────────────── continue (ask again) ─────────────┘
    any state ──abort (barge-in, new session, error, timeout)──▶ (ended)

One session per site at a time: a new session on a busy site aborts the old one (barge-in).
A session is *ours* when this gateway's dialogue manager started it (wake word, startSession);
for a session started elsewhere (`asr/startListening` from another dialogue manager) the gateway
is only the recogniser and publishes `textCaptured`. Issue-10 work (wake word, waiting for
`sayFinished` before listening) adds phases here without touching the audio or ASR code.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from gateway.hermes.dialogue import TerminationReason


class Phase(StrEnum):
    LISTENING = "listening"
    RECOGNISING = "recognising"
    HANDLING = "handling"  # intent published; a built-in skill or an external one answers
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
    phase: Phase = Phase.LISTENING
    turns: int = 0
    turn_started_at: float | None = None
    termination: TerminationReason | None = None

    def utterance_ended(self) -> None:
        self._expect(Phase.LISTENING)
        self.phase = Phase.RECOGNISING

    def recognised(self) -> None:
        self._expect(Phase.RECOGNISING)
        self.phase = Phase.HANDLING
        self.turns += 1

    def listen_again(self, intent_filter: list[str] | None) -> None:
        """continueSession: ask the customer again."""
        if self.phase is Phase.ENDED:
            raise SessionError(f"session {self.session_id} has ended")
        self.phase = Phase.LISTENING
        self.intent_filter = intent_filter

    def end(self, reason: TerminationReason) -> bool:
        """Returns False if it had ended already (so sessionEnded is published once)."""
        if self.phase is Phase.ENDED:
            return False
        self.phase, self.termination = Phase.ENDED, reason
        return True

    def _expect(self, phase: Phase) -> None:
        if self.phase is not phase:
            raise SessionError(f"session {self.session_id} is {self.phase.value}, not {phase.value}")


@dataclass
class SessionTable:
    """The sessions of all sites, by site and by id."""

    by_site: dict[str, Session] = field(default_factory=dict)

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

    def expired(self, now: float, timeout_s: float) -> list[Session]:
        return [s for s in self.by_site.values() if now - s.started_at > timeout_s]
