"""Where pulled changes land in the gateway: consents in the consent part (its consent feed:
ledger + table, audited, lost consents enforced), profiles in the `profiles` table the rules
read, erasures through the consent part's customer records.

Without a consent part (a stripped-down gateway) consents and erasures from the feed are not
applied: the gate then holds no consents, so nothing personal is synced either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import sqlite_utils
from pydantic import ValidationError

from gateway.consent.model import ConsentChange as LedgerChange
from gateway.ports import ConsentFeed, CustomerRecords
from gateway.store import Store
from gateway.store.database import Transaction
from gateway.store.profiles import merge_profile_row
from gateway.sync.puller import ChangeAppliers
from gateway.sync.wire import ConsentChange, ErasureChange, ProfileChange

log = logging.getLogger(__name__)


def merge_pulled_profiles(db: sqlite_utils.Database, changes: Sequence[ProfileChange]) -> list[str]:
    """Merge pulled attributes into the local profiles in one transaction (a null value removes
    the attribute; an older change than the stored profile is ignored, so replays are harmless).
    Returns the customers whose profile changed."""
    changed: list[str] = []
    with Transaction(db) as conn:
        for change in changes:
            if merge_profile_row(conn, change.customer_id, change.attributes, change.changed_at):
                changed.append(change.customer_id)
    return changed


def build_appliers(
    store: Store,
    consents: ConsentFeed | None,
    records: CustomerRecords | None,
    site_id: str,
    on_profile_changed: Callable[[str], None] = lambda customer_id: None,
) -> ChangeAppliers:
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
        for customer_id in await store.call(lambda db: merge_pulled_profiles(db, changes)):
            on_profile_changed(customer_id)  # e.g. the rules engine drops its cached copy

    async def apply_erasures(changes: Sequence[ErasureChange]) -> None:
        if records is None:
            log.warning("no consent part: %d pulled erasures not applied", len(changes))
            return
        for change in changes:
            if change.origin_site == site_id:
                continue  # our own erasure coming back: done here already
            await records.erase(change.customer_id, "central")

    return ChangeAppliers(consents=apply_consents, profiles=apply_profiles, erasures=apply_erasures)
