"""Retention: delete rows older than each table's time-to-live, in small chunks.

Chunks keep each write transaction short, so ingest's group commits interleave with a large
clean-up instead of waiting behind it.
"""

from __future__ import annotations

import sqlite_utils

from gateway.store.database import Transaction

# The time column that a row's age is measured by. The audit log, consents and erasure records are
# not here on purpose: they are the records of processing and of the customer's decisions.
RETAINED_TABLES: dict[str, str] = {
    "events": "received_at",
    "dead_letters": "received_at",
    "profiles": "updated_at",
    "outbox": "enqueued_at",
}


def delete_older_than(db: sqlite_utils.Database, table: str, cutoff: float, limit: int = 5000) -> int:
    """Delete up to `limit` rows of `table` older than `cutoff`; returns how many went."""
    column = RETAINED_TABLES[table]
    with Transaction(db) as conn:
        return conn.execute(
            f'DELETE FROM "{table}" WHERE rowid IN (SELECT rowid FROM "{table}" WHERE "{column}" < ? LIMIT ?)',
            (cutoff, limit),
        ).rowcount
