"""The retention task: each table's rows older than its time-to-live are deleted periodically."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable

from gateway.consent.settings import PrivacySettings
from gateway.consent.audit_log import record_audit
from gateway.store.database import Store
from gateway.store.retention import delete_older_than

log = logging.getLogger(__name__)

CHUNK = 5000


async def enforce_retention(store: Store, settings: PrivacySettings, now: float) -> dict[str, int]:
    """Delete expired rows of every table with a time-to-live; audit what went. One chunk per
    store call, so ingest commits interleave with a large clean-up."""
    deleted: dict[str, int] = {}
    for table, ttl in settings.retention.model_dump().items():
        if ttl is None:
            continue
        cutoff = now - ttl
        total = 0
        while True:
            count = await store.call(functools.partial(delete_older_than, table=table, cutoff=cutoff, limit=CHUNK))
            total += count
            if count < CHUNK:
                break
        if total:
            deleted[table] = total
    if deleted:
        await store.call(lambda db: record_audit(db, "retention", {"deleted": deleted, "now": now}, now))
        log.info("retention deleted old rows", extra={"fields": {"deleted": deleted}})
    return deleted


async def run_retention(store: Store, settings: PrivacySettings, clock: Callable[[], float] = time.time) -> None:
    # A short pause first: start-up (ingest catching up on queued messages) goes ahead of clean-up.
    await asyncio.sleep(min(5.0, settings.retention_interval_s))
    while True:
        await enforce_retention(store, settings, clock())
        await asyncio.sleep(settings.retention_interval_s)
