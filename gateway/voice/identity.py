"""Who is speaking at a site: an `identify` event (card tap) binds the customer to ONE voice
session, never to the site.

- A tap while a session runs at the site binds that session.
- A tap at a quiet site waits up to `window_s` for the next session there; the first session
  that starts in that window takes it (the tap is used up).
- The binding ends with its session. A new wake word is a new session, so a new person, unless
  they tap again: the next customer at the speaker can never hear the last one's data, nor erase it.

Fed by the ingest path's committed events, so a tap counts only once it is safely stored (and
only with the customer id the consent gate let through). Pure: no I/O, the caller gives the time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.model.event import Event
from gateway.voice.session import Phase, Session

IDENTIFY_KIND = "identify"


@dataclass
class IdentityBindings:
    window_s: float  # how long a tap at a quiet site waits for the next session to start
    clock: Callable[[], float]
    _waiting: dict[str, tuple[str, float]] = field(default_factory=dict)  # site → (customer, until)
    _live: dict[str, Session] = field(default_factory=dict)  # site → its running session

    def on_committed(self, events: list[Event]) -> None:
        for event in events:
            if event.kind == IDENTIFY_KIND and event.customer_id is not None:
                self.tap(event.site, event.customer_id, event.received_at)

    def tap(self, site_id: str, customer_id: str, at: float) -> None:
        session = self._live.get(site_id)
        if session is not None and session.phase is not Phase.ENDED:
            session.customer_id = customer_id  # the latest tap in a session says who is there now
            self._waiting.pop(site_id, None)
            return
        self._waiting[site_id] = (customer_id, at + self.window_s)

    def opened(self, session: Session) -> None:
        """A session starts at its site: it takes a tap that waits there, if one does."""
        self._live[session.site_id] = session
        session.customer_id = self._claim(session.site_id)

    def closed(self, session: Session) -> None:
        """The session ended: its binding ends with it."""
        if self._live.get(session.site_id) is session:
            del self._live[session.site_id]
        session.customer_id = None

    def waiting_at(self, site_id: str) -> str | None:
        """The customer whose tap waits for the site's next session (not yet bound), if any."""
        waiting = self._waiting.get(site_id)
        if waiting is None or self.clock() > waiting[1]:
            return None
        return waiting[0]

    def customer_of(self, site_id: str) -> str | None:
        """The customer bound to the site's running session, if any."""
        session = self._live.get(site_id)
        return session.customer_id if session is not None and session.phase is not Phase.ENDED else None

    def forget_customer(self, customer_id: str) -> None:
        """After an erasure the customer is bound nowhere and no tap of theirs waits."""
        for site in [s for s, (c, _) in self._waiting.items() if c == customer_id]:
            del self._waiting[site]
        for session in self._live.values():
            if session.customer_id == customer_id:
                session.customer_id = None

    def _claim(self, site_id: str) -> str | None:
        customer = self.waiting_at(site_id)
        self._waiting.pop(site_id, None)
        return customer
