"""The consent ledger in memory: the hot path's answer to "may this leave?" without any I/O. Pure.

It mirrors the consents table (loaded at start, updated on every change) plus two small things the
table does not hold: which customers were seen at a touchpoint lately (a consent button may only
record a consent for someone who is actually there) and the keyed hashes of erased customers (so
that a stale change pulled from the central service cannot bring an erased customer back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from gateway.consent.model import ConsentRecord, ConsentSource, ConsentStatus


# A held decision timed further ahead of the gateway's clock than this is in doubt: a narrowing
# change (denial, revocation) is applied over it rather than skipped as older.
CLOCK_SKEW_S = 300.0


def protective(status: ConsentStatus) -> bool:
    return status is not ConsentStatus.GRANTED


def supersession(record: ConsentRecord, previous: ConsentRecord | None, now: float) -> str | None:
    """Why `record` does not replace `previous` ("stale", "unchanged"), or None if it does.

    The last decision wins, except where the order is in doubt; then the more protective status
    wins, so a revocation is never dropped for a grant that merely claims to be later:
    - the same decision time: a denial or revocation beats a grant;
    - a held grant timed beyond the gateway's clock (+ CLOCK_SKEW_S): a narrowing change applies.
    """
    if previous is None:
        return None
    if record.changed_at < previous.changed_at:
        doubtful = previous.changed_at > now + CLOCK_SKEW_S
        if not (doubtful and protective(record.status) and not protective(previous.status)):
            return "stale"
    if record.changed_at == previous.changed_at and protective(previous.status) and not protective(record.status):
        return "stale"
    # A later decision of the same status is still news: its time is what a grant or revocation
    # arriving afterwards is weighed against (revoked at 5, revoked again at 10, granted at 10:
    # the revocation at 10 stands, which it cannot if the ledger still holds 5).
    if previous.status is record.status and previous.expires_at == record.expires_at and record.changed_at == previous.changed_at:
        return "unchanged"
    return None


class Outcome(StrEnum):
    APPLY = "apply"
    STALE = "stale"  # older than the decision already held
    UNCHANGED = "unchanged"  # same status and expiry as held: nothing to write
    ERASED = "erased"  # decided before the customer's erasure


@dataclass(frozen=True, slots=True)
class Plan:
    outcome: Outcome
    record: ConsentRecord
    previous: ConsentRecord | None

    @property
    def narrows(self) -> bool:
        """Whether applying it can take away a consent (then memory is updated before the disk,
        so the gate is strict at once; a grant is written to disk first)."""
        return self.record.status is not ConsentStatus.GRANTED or (
            self.previous is not None
            and self.previous.status is ConsentStatus.GRANTED
            and self.record.expires_at is not None
            and (self.previous.expires_at is None or self.record.expires_at < self.previous.expires_at)
        )


class ConsentLedger:
    def __init__(self, pseudonymise: Callable[[str], str], identify_window_s: float) -> None:
        self._pseudonymise = pseudonymise
        self._window = identify_window_s
        self._records: dict[tuple[str, str], ConsentRecord] = {}
        self._purposes_of: dict[str, set[str]] = {}
        self._erased_at: dict[str, float] = {}
        self._seen: dict[str, float] = {}

    # -- the hot path -----------------------------------------------------------------------
    def allows(self, customer_id: str, purpose: str, at: float) -> bool:
        """Whether a consent valid at `at` covers `purpose` (the gate at ingest and at send)."""
        record = self._records.get((customer_id, purpose))
        return record is not None and record.allows(at)

    def note_seen(self, customer_id: str, at: float) -> None:
        if self._seen.get(customer_id, 0.0) < at:
            self._seen[customer_id] = at

    # -- reading ----------------------------------------------------------------------------
    def record(self, customer_id: str, purpose: str) -> ConsentRecord | None:
        return self._records.get((customer_id, purpose))

    def recently_seen(self, customer_id: str, at: float) -> bool:
        last = self._seen.get(customer_id)
        return last is not None and at - last <= self._window

    def was_erased(self, customer_id: str) -> float | None:
        return self._erased_at.get(self._pseudonymise(customer_id))

    def next_expiry(self) -> float | None:
        times = [r.expires_at for r in self._records.values() if r.status is ConsentStatus.GRANTED and r.expires_at]
        return min(times) if times else None

    def due_expiries(self, at: float) -> list[ConsentRecord]:
        return [
            r
            for r in self._records.values()
            if r.status is ConsentStatus.GRANTED and r.expires_at is not None and r.expires_at <= at
        ]

    # -- changing ---------------------------------------------------------------------------
    def plan(self, record: ConsentRecord, now: float) -> Plan:
        """Decide whether a change applies, without applying it (`supersession` says how)."""
        previous = self._records.get((record.customer_id, record.purpose))
        erased_at = self.was_erased(record.customer_id)
        if erased_at is not None and record.changed_at <= erased_at and record.source is ConsentSource.CENTRAL:
            return Plan(Outcome.ERASED, record, previous)
        skip = supersession(record, previous, now)
        if skip == "stale":
            return Plan(Outcome.STALE, record, previous)
        if skip == "unchanged":
            return Plan(Outcome.UNCHANGED, record, previous)
        return Plan(Outcome.APPLY, record, previous)

    def put(self, record: ConsentRecord) -> None:
        self._records[(record.customer_id, record.purpose)] = record
        self._purposes_of.setdefault(record.customer_id, set()).add(record.purpose)

    def load(self, records: Iterable[ConsentRecord], erased: Iterable[tuple[str, float]]) -> None:
        """Replace the whole state with what the store holds (at start, or after another process
        such as the CLI changed it). Customers seen lately stay seen unless erased."""
        self._records.clear()
        self._purposes_of.clear()
        for record in records:
            self.put(record)
        self._erased_at = dict(erased)
        for customer_id in [c for c in self._seen if self._pseudonymise(c) in self._erased_at]:
            del self._seen[customer_id]

    def forget(self, customer_id: str, erased_at: float) -> None:
        for purpose in self._purposes_of.pop(customer_id, set()):
            del self._records[(customer_id, purpose)]
        self._seen.pop(customer_id, None)
        self._erased_at[self._pseudonymise(customer_id)] = erased_at

    def prune_seen(self, at: float) -> int:
        stale = [c for c, last in self._seen.items() if at - last > self._window]
        for customer_id in stale:
            del self._seen[customer_id]
        return len(stale)

    def seen_customers(self) -> list[str]:
        return list(self._seen)
