"""Retention: delete rows older than each table's time-to-live, in small chunks.

Chunks keep each write transaction short, so ingest's group commits interleave with a large
clean-up instead of waiting behind it.
"""

from __future__ import annotations

import sqlite_utils

from gateway.store.database import Transaction

# Each retention setting's rows: (table, the time column a row's age is measured by, which rows).
# The audit log, consents and erasure records are not here on purpose: they are the records of
# processing and of the customer's decisions. `on_site_events` are strangers' device sightings
# (gateway/devices/identifiers.py): their anonymous ids are kept about a day, not the events' TTL.
RETAINED_TABLES: dict[str, tuple[str, str, str]] = {
    "events": ("events", "received_at", "1"),
    "on_site_events": ("events", "received_at", "purpose = 'on_site'"),
    "dead_letters": ("dead_letters", "received_at", "1"),
    "profiles": ("profiles", "updated_at", "1"),
    "outbox": ("outbox", "enqueued_at", "1"),
}


def delete_older_than(db: sqlite_utils.Database, table: str, cutoff: float, limit: int = 5000) -> int:
    """Delete up to `limit` rows of the retention setting `table` older than `cutoff`; returns how many went."""
    name, column, which = RETAINED_TABLES[table]
    with Transaction(db) as conn:
        return conn.execute(
            f'DELETE FROM "{name}" WHERE rowid IN (SELECT rowid FROM "{name}" WHERE {which} AND "{column}" < ? LIMIT ?)',
            (cutoff, limit),
        ).rowcount
