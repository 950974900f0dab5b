"""The consent part at run time: the ledger kept in step with the store, erasure and export.

Ordering rule (why the in-memory ledger and the store never let personal data slip through):
every change that takes a consent away is put in memory *before* its store write is submitted,
in the same stretch of the event loop. Ingest builds a batch and submits its write in one stretch
too, and the store runs writes one at a time in submission order. So a batch decided with the old
consent was submitted earlier and is written before the purge (which then removes it), and every
later batch already sees the narrower consent. A grant goes the other way: on disk first, then in
memory, so the gate never allows what a crash would forget.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence

import sqlite_utils

from gateway.consent.gate import LedgerGate
from gateway.consent.ledger import ConsentLedger, Outcome
from gateway.consent.model import (
    ConsentChange,
    ConsentRecord,
    ConsentSource,
    CustomerExport,
    ErasureResult,
)
from gateway.consent.pseudonym import Pseudonymiser
from gateway.consent.settings import PrivacySettings
from gateway.consent.audit_log import record_audit
from gateway.consent.consent_rows import AppliedConsents, apply_consent_changes, expire_consents, is_known_customer, load_consents
from gateway.store.database import Store
from gateway.consent.erasure_rows import (
    erase_customer,
    erasures_after,
    export_customer,
    latest_erasure_id,
    load_erased,
    repeat_erasure,
)
from gateway.consent.key_row import load_or_create_pseudonym_key


log = logging.getLogger(__name__)

Clock = Callable[[], float]


class ConsentService:
    """What other parts use: `allows()` (the sync helper's re-check at send time),
    `apply_changes()` (consents pulled from the central service), `forget()` (the voice skill,
    the admin API), `export()`, and `pseudonymise()` for anything that logs a customer."""

    def __init__(
        self, store: Store, settings: PrivacySettings, pseudonymiser: Pseudonymiser, clock: Clock = time.time
    ) -> None:
        self.settings = settings
        self.pseudonymise = pseudonymiser
        self.ledger = ConsentLedger(pseudonymiser, settings.identify_window_s)
        self.gate = LedgerGate(self.ledger, settings)
        self._store = store
        self._clock = clock
        self._last_erasure_id = 0
        self._data_version = 0
        self.changes_applied = 0
        # Parts that keep customers in memory (rules, voice identity) drop them on erasure.
        self.on_erased: list[Callable[[str], None]] = []

    @classmethod
    async def open(cls, store: Store, settings: PrivacySettings, clock: Clock = time.time) -> ConsentService:
        if settings.pseudonym_key is not None:
            key = settings.pseudonym_key.get_secret_value().encode("utf-8")
        else:
            key = await store.call(load_or_create_pseudonym_key)
        service = cls(store, settings, Pseudonymiser(key), clock)
        await service.reload()
        return service

    # -- queries ----------------------------------------------------------------------------
    def allows(self, customer_id: str, purpose: str, at: float | None = None) -> bool:
        """Whether the customer's consent for `purpose` is valid at `at` (default: now)."""
        return self.ledger.allows(customer_id, purpose, self._clock() if at is None else at)

    async def is_known(self, customer_id: str) -> bool:
        """Seen at a touchpoint lately, or holding a consent or profile in the store."""
        if self.ledger.recently_seen(customer_id, self._clock()):
            return True
        return await self._store.call(lambda db: is_known_customer(db, customer_id))

    # -- changes ----------------------------------------------------------------------------
    async def apply_changes(
        self, changes: Sequence[ConsentChange], source: ConsentSource = ConsentSource.CENTRAL
    ) -> AppliedConsents:
        """Apply consent changes (the sync helper calls this with what it pulled), audited, with
        lost consents enforced (queued outbox rows purged, local events stripped or dropped)."""
        return await self.apply_records([c.record(source) for c in changes])

    async def apply_records(self, records: Sequence[ConsentRecord]) -> AppliedConsents:
        now = self._clock()
        plans = [self.ledger.plan(r, now) for r in records]
        for plan in plans:
            if plan.outcome is Outcome.APPLY and plan.narrows and plan.record.purpose in self.settings.purposes:
                self.ledger.put(plan.record)  # strict at once; see the module docstring
        privacy, pseudonymise = self.settings, self.pseudonymise
        # If the write fails, memory stays at least as strict as the store; the caller retries.
        result = await self._store.call(
            lambda db: apply_consent_changes(db, records, pseudonymise=pseudonymise, privacy=privacy, now=now)
        )
        for record in result.current:
            self.ledger.put(record)
        self.changes_applied += result.applied
        if result.applied:
            log.info(
                "consent changes applied",
                extra={"fields": {"applied": result.applied, "skipped": result.skipped, "purged_outbox": result.purged_outbox}},
            )
        return result

    async def audit_refusal(self, kind: str, site: str, reason: str, customer_id: str | None) -> None:
        """A refused touchpoint message (`kind` consent or erasure) in the audit log."""
        detail: dict[str, object] = {
            "message": kind, "site": site, "reason": reason,
            "customer": self.pseudonymise(customer_id) if customer_id is not None else None,
        }
        now = self._clock()
        await self._store.call(lambda db: record_audit(db, "consent.refused", detail, now))

    async def forget(self, customer_id: str, source: ConsentSource) -> ErasureResult:
        """Erase every local row of the customer and queue the erasure for the central service."""
        now = self._clock()
        pseudonym = self.pseudonymise(customer_id)
        self.ledger.forget(customer_id, now)  # before the store write: see the module docstring
        result = await self._store.call(
            lambda db: erase_customer(db, customer_id, pseudonym=pseudonym, source=source, now=now)
        )
        self._last_erasure_id = max(self._last_erasure_id, result.erasure_id)
        for listener in self.on_erased:
            listener(customer_id)
        log.info("customer erased", extra={"fields": {"customer": pseudonym, "rows": result.total, "source": source.value}})
        return result

    async def export(self, customer_id: str) -> CustomerExport:
        now, pseudonym = self._clock(), self.pseudonymise(customer_id)
        return await self._store.call(lambda db: export_customer(db, customer_id, pseudonym=pseudonym, now=now))

    async def expire_due(self) -> list[ConsentRecord]:
        """Enforce every granted consent whose expiry has passed (the gate already refuses them:
        this purges what was queued before and marks them expired)."""
        now = self._clock()
        due = self.ledger.due_expiries(now)
        if not due:
            return []
        privacy, pseudonymise = self.settings, self.pseudonymise
        done = await self._store.call(
            lambda db: expire_consents(db, due, pseudonymise=pseudonymise, privacy=privacy, now=now)
        )
        for record in done:
            self.ledger.put(record)
        return done

    # -- keeping in step with the store -----------------------------------------------------
    async def reload(self) -> None:
        """Load the ledger from the store (at start, and after another process changed it)."""

        def read(db: sqlite_utils.Database) -> tuple[int, list[ConsentRecord], list[tuple[str, float]], int]:
            version = int(db.conn.execute("PRAGMA data_version").fetchone()[0])
            return version, load_consents(db), load_erased(db), latest_erasure_id(db)

        self._data_version, records, erased, last_id = await self._store.call(read)
        self.ledger.load(records, erased)
        self._last_erasure_id = max(self._last_erasure_id, last_id)

    async def refresh_if_changed(self) -> bool:
        """If another process (the CLI's `forget`) wrote to the store, reload the ledger and erase
        again what this process wrote about a newly erased customer in the meantime."""
        version = await self._store.call(lambda db: db.conn.execute("PRAGMA data_version").fetchone()[0])
        if version == self._data_version:
            return False
        after = self._last_erasure_id
        seen = {self.pseudonymise(c): c for c in self.ledger.seen_customers()}
        new_erasures = await self._store.call(lambda db: erasures_after(db, after))
        await self.reload()
        for erasure_id, pseudonym, customer_id in new_erasures:
            customer_id = customer_id or seen.get(pseudonym)
            if customer_id is not None:
                self.ledger.forget(customer_id, self._clock())
                await self._store.call(functools.partial(repeat_erasure, customer_id=customer_id, pseudonym=pseudonym))
            self._last_erasure_id = max(self._last_erasure_id, erasure_id)
        return True

    async def flush_gate_counts(self, since: float) -> float:
        """Write the gate decisions counted since `since` as one audit entry; returns the new start."""
        until = self._clock()
        counts = self.gate.take_counts()
        if not counts:
            return until
        try:
            await self._store.call(
                lambda db: record_audit(db, "gate.decisions", {"since": since, "until": until, "counts": counts}, until)
            )
        except BaseException:
            self.gate.restore_counts(counts)
            raise
        return until

    # -- tasks ------------------------------------------------------------------------------
    async def run_expiry(self) -> None:
        while True:
            await self.expire_due()
            now = self._clock()
            self.ledger.prune_seen(now)
            wait = self.settings.expiry_check_s
            next_expiry = self.ledger.next_expiry()
            if next_expiry is not None:
                wait = min(wait, max(next_expiry - now, 0.0) + 0.01)
            await asyncio.sleep(wait)

    async def run_refresh(self) -> None:
        while True:
            await asyncio.sleep(self.settings.refresh_check_s)
            await self.refresh_if_changed()

    async def run_audit_flush(self) -> None:
        since = self._clock()
        try:
            while True:
                await asyncio.sleep(self.settings.audit_interval_s)
                since = await self.flush_gate_counts(since)
        except asyncio.CancelledError:
            # The counts of the last interval, at shutdown; a failing store must not turn a clean
            # stop into a crash, so it is logged and the stop goes on.
            try:
                await self.flush_gate_counts(since)
            except sqlite3.Error as exc:
                log.error("gate decision counts of the last %.0fs not audited: %s", self._clock() - since, exc)
            raise
