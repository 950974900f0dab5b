"""The consent gate's verdict for one event at ingest. Pure logic, no I/O.

Anonymous events may be synced. A personal event may be synced only when the customer has a
valid consent for the event's purpose; otherwise it is never queued, and it is kept locally only
with the customer id stripped (or dropped), as the purpose's policy says.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from gateway.model.event import Event, with_changes


# Data that is used in the shop and never leaves it, whatever the consents: a stranger's device
# seen through its anonymous id (gateway/devices/identifiers.py) is counted here, never synced.
ON_SITE_PURPOSE = "on_site"


class GateClass(StrEnum):
    ANONYMOUS = "anonymous"
    CONSENTED = "consented"
    UNCONSENTED = "unconsented"


class GateDecision:
    """What to do with an event: store `local` (maybe stripped), and queue it for sync or not."""

    __slots__ = ("gate_class", "local", "sync")

    def __init__(self, gate_class: GateClass, local: Event | None, sync: bool) -> None:
        self.gate_class = gate_class
        self.local = local
        self.sync = sync


class ConsentLookup(Protocol):
    def allows(self, customer_id: str, purpose: str, at: float) -> bool: ...


class ConsentGate(Protocol):
    def decide(self, event: Event) -> GateDecision: ...


class StrictGate:
    """The safe default: personal data without consent never leaves and is kept only anonymised."""

    def __init__(self, consents: ConsentLookup) -> None:
        self._consents = consents

    def decide(self, event: Event) -> GateDecision:
        if event.customer_id is None:
            return GateDecision(GateClass.ANONYMOUS, event, event.purpose != ON_SITE_PURPOSE)
        if self._consents.allows(event.customer_id, event.purpose, event.received_at):
            return GateDecision(GateClass.CONSENTED, event, True)
        return GateDecision(GateClass.UNCONSENTED, with_changes(event, customer_id=None), False)


class NoConsents:
    """A ledger that holds no consents (used until the consent ledger is wired in)."""

    def allows(self, customer_id: str, purpose: str, at: float) -> bool:
        return False
