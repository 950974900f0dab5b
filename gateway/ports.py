"""The ports parts offer each other: small protocols, and one typed key for each.

A part names the ports it needs (`requires`), those it uses when present (`uses`) and those it
offers (`provides`); the composition root (gateway/app.py) orders the parts by them and hands each
part a `Ports` view holding what the parts built before it offered. This module is low on
purpose: it imports only the pure model and Hermes message modules, never a part, so every part
can depend on it and none on another's internals.

What always exists is not a port but part of the core (gateway/part.py): publishing over MQTT
(`Publish`), the dead-letter sink (`DeadLetterSink`), the store, ingest and the metrics.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from gateway.hermes.tts import SayOutcome, TtsSay
from gateway.model.deadletter import DeadLetter, DeadLetterReason
from gateway.model.event import Event
from gateway.model.gate import ConsentGate, ConsentLookup
from gateway.model.inbound import InboundMessage

T = TypeVar("T")

__all__ = [
    "AUDIT_APPEND", "AuditAppend", "CONSENT_FEED", "CONSENT_GATE", "CONSENT_LOOKUP", "CENTRAL_LINK", "CUSTOMER_RECORDS", "INTENT_SINK", "PROFILE_CHANGES",
    "PSEUDONYMISE", "RULE_CATALOGUE", "SPEAKER", "CentralLinkState", "CommittedListener", "ConsentFeed", "ConsentGate",
    "ConsentLookup", "CustomerRecords", "DeadLetterListener", "DeadLetterSink", "ErasureSummary", "IntentSink",
    "Port", "Ports", "ProfileChanges", "Pseudonymise", "Publish", "RuleCatalogue", "Speaker",
]


# -- what the core offers every part ---------------------------------------------------------
class Publish(Protocol):
    """Queue an MQTT message; never raises for a down broker (see gateway/mqtt.py)."""

    def __call__(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None: ...


DeadLetterSink = Callable[[InboundMessage, DeadLetterReason, str], None]
CommittedListener = Callable[[list[Event]], None]
DeadLetterListener = Callable[[list[DeadLetter]], None]


# -- consent ---------------------------------------------------------------------------------
Pseudonymise = Callable[[str], str]
# Append one entry to the hash-chained audit log, inside the caller's transaction: (conn, kind,
# detail, at) -> seq. What a part audits commits with the change it audits.
AuditAppend = Callable[[sqlite3.Connection, str, dict[str, Any], float], int]


@dataclass(frozen=True, slots=True)
class ErasureSummary:
    """What an erasure removed, per table; `erasure_id` names the record queued upstream (0: none)."""

    erasure_id: int
    pseudonym: str
    deleted: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


class CustomerRecords(Protocol):
    """Erasure and export of one customer's local data (GDPR art. 17 and 15), audited by the
    consent part. `source` is who asked: "touchpoint" (the customer) or "operator"."""

    async def erase(self, customer_id: str, source: str) -> ErasureSummary: ...

    async def export(self, customer_id: str) -> dict[str, Any]:
        """Everything stored about the customer, as JSON-ready data (`tables`, `audit`, ...)."""
        ...

    def on_erased(self, listener: Callable[[str], None]) -> None:
        """Call `listener(customer_id)` after each erasure (parts that hold customers in memory)."""
        ...


class ConsentFeed(Protocol):
    """Consent changes pulled from the central service, applied to the ledger (audited, lost
    consents enforced). `changes` are `gateway.consent.model.ConsentChange`s."""

    async def apply_changes(self, changes: Sequence[Any], source: Any = ...) -> Any: ...


# -- rules -----------------------------------------------------------------------------------
class IntentSink(Protocol):
    def on_intent(self, site: str, intent_name: str, slots: Mapping[str, Any] | None = None, customer_id: str | None = None) -> None: ...


class ProfileChanges(Protocol):
    def invalidate_profile(self, customer_id: str) -> None:
        """A customer's profile changed in the store (pulled from the central service)."""
        ...


class RuleCatalogue(Protocol):
    """The rules the operator may list and reload, and their firings (the admin API's view)."""

    def describe(self) -> Sequence[Mapping[str, Any]]: ...

    async def reload(self) -> tuple[int, list[str]]:
        """Reload from disk: (rules loaded, problems); nothing changes when there are problems."""
        ...

    def on_fired(self, listener: Callable[[str, str | None, str], None]) -> None:
        """`listener(rule_id, event_id or None for an intent, detail)` for every rule that fires."""
        ...


# -- speech ----------------------------------------------------------------------------------
class Speaker(Protocol):
    """The gateway's own TTS service, spoken to in-process by the dialogue manager."""

    def submit(self, say: TtsSay, received_at: float | None = None, published: bool = False) -> asyncio.Future[SayOutcome]: ...


# -- sync ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CentralLinkState:
    configured: bool
    state: str | None = None
    last_success_at: float | None = None
    last_error: str = ""


CentralLink = Callable[[], CentralLinkState]


# -- the keys --------------------------------------------------------------------------------
class Port(Generic[T]):
    """A typed key for one port: `ports.require(CONSENT_LOOKUP)` is a `ConsentLookup`."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Port({self.name!r})"


CONSENT_LOOKUP: Port[ConsentLookup] = Port("consent lookup")
CONSENT_GATE: Port[ConsentGate] = Port("consent gate")
PSEUDONYMISE: Port[Pseudonymise] = Port("pseudonymiser")
AUDIT_APPEND: Port[AuditAppend] = Port("audit log")
CONSENT_FEED: Port[ConsentFeed] = Port("consent feed")
CUSTOMER_RECORDS: Port[CustomerRecords] = Port("customer records (erasure, export)")
INTENT_SINK: Port[IntentSink] = Port("intent sink")
PROFILE_CHANGES: Port[ProfileChanges] = Port("profile changes")
RULE_CATALOGUE: Port[RuleCatalogue] = Port("rule catalogue")
SPEAKER: Port[Speaker] = Port("speaker")
CENTRAL_LINK: Port[CentralLink] = Port("central link")


class MissingPort(LookupError):
    pass


class Ports:
    """What the parts built so far offer. Read-only for a part: it offers through what `build`
    returns, and the root adds it here."""

    def __init__(self, offered: Mapping[Port[Any], object] | None = None) -> None:
        self._offered: dict[Port[Any], object] = dict(offered or {})

    def require(self, port: Port[T]) -> T:
        if port not in self._offered:
            raise MissingPort(f"no part offers the {port.name}")
        return self._offered[port]  # type: ignore[return-value]

    def optional(self, port: Port[T]) -> T | None:
        return self._offered.get(port)  # type: ignore[return-value]

    def __contains__(self, port: object) -> bool:
        return port in self._offered

    def with_offers(self, offers: Mapping[Port[Any], object]) -> Ports:
        return Ports({**self._offered, **offers})

