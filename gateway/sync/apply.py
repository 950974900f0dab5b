"""Where pulled changes land in the gateway: consents in the consent part (`runtime.consents`, a
`ConsentService`: ledger + table, audited, lost consents enforced), profiles in the `profiles`
table the rules read, erasures through the consent part's erasure.

Without a consent part (a stripped-down gateway) consents and erasures from the feed are not
applied: the gate then holds no consents, so nothing personal is synced either.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import sqlite_utils
from pydantic import ValidationError

from gateway.consent.model import ConsentChange as LedgerChange
from gateway.consent.model import ConsentSource
from gateway.store import Store
from gateway.store.database import Transaction
from gateway.sync.puller import ChangeAppliers
from gateway.sync.wire import ConsentChange, ErasureChange, ProfileChange

log = logging.getLogger(__name__)


class ConsentPart(Protocol):
    """What sync needs of the consent part (gateway/consent/service.py)."""

    def allows(self, customer_id: str, purpose: str, at: float | None = None) -> bool: ...

    async def apply_changes(self, changes: Sequence[Any], source: Any = ...) -> Any: ...

    async def forget(self, customer_id: str, source: Any) -> Any: ...


def merge_pulled_profiles(db: sqlite_utils.Database, changes: Sequence[ProfileChange]) -> int:
    """Merge pulled attributes into the local profiles (a null value removes the attribute), one
    transaction. Merging the same change twice gives the same profile (idempotent)."""
    with Transaction(db) as conn:
        for change in changes:
            row = conn.execute("SELECT attributes FROM profiles WHERE customer_id = ?", (change.customer_id,)).fetchone()
            merged: dict[str, Any] = json.loads(row[0]) if row else {}
            for key, value in change.attributes.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            conn.execute(
                "INSERT INTO profiles (customer_id, attributes, updated_at) VALUES (?, ?, ?) ON CONFLICT(customer_id)"
                " DO UPDATE SET attributes = excluded.attributes, updated_at = excluded.updated_at",
                (change.customer_id, json.dumps(merged, separators=(",", ":")), change.changed_at),
            )
    return len(changes)


def build_appliers(store: Store, consents: ConsentPart | None, site_id: str) -> ChangeAppliers:
    async def apply_consents(changes: Sequence[ConsentChange]) -> None:
        if consents is None:
            log.warning("no consent part: %d pulled consent changes not applied", len(changes))
            return
        usable: list[LedgerChange] = []
        for c in changes:
            try:
                usable.append(
                    LedgerChange(
                        customer_id=c.customer_id, purpose=c.purpose, status=c.status,
                        changed_at=c.changed_at, expires_at=c.expires_at,
                    )
                )
            except ValidationError as exc:
                # An unknown status or purpose from a newer service: skipped, never guessed.
                log.error("pulled consent change %d not applicable: %s", c.seq, exc.errors(include_url=False)[0]["msg"])
        if usable:
            await consents.apply_changes(usable)

    async def apply_profiles(changes: Sequence[ProfileChange]) -> None:
        await store.call(lambda db: merge_pulled_profiles(db, changes))

    async def apply_erasures(changes: Sequence[ErasureChange]) -> None:
        if consents is None:
            log.warning("no consent part: %d pulled erasures not applied", len(changes))
            return
        for change in changes:
            if change.origin_site == site_id:
                continue  # our own erasure coming back: done here already
            await consents.forget(change.customer_id, ConsentSource.CENTRAL)

    return ChangeAppliers(consents=apply_consents, profiles=apply_profiles, erasures=apply_erasures)
