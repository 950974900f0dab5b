"""Sync's small persistent state in the `state` table: the changes-feed cursor and counters.

Counters are kept on disk (not only in memory) because "what was dropped" must survive restarts
to be reported honestly; they are bumped in the same transaction as the change they count.
"""

from __future__ import annotations

import sqlite3

import sqlite_utils

CURSOR_KEY = "sync.changes_cursor"
COUNTER_PREFIX = "sync.count."

# The counters sync keeps, and what each one counts.
COUNTERS: dict[str, str] = {
    "sent": "events the central service accepted (deleted from the outbox)",
    "rejected": "events the central service refused for good (moved to dead letters)",
    "dropped_budget": "events dropped, oldest first, because the outbox passed its byte budget",
    "dropped_budget_bytes": "bytes of those",
    "dropped_ttl": "events dropped because they waited longer than the TTL",
    "dropped_ttl_bytes": "bytes of those",
    "purged_consent": "queued personal events purged because consent no longer held at send time",
    "erasures_sent": "erasures the central service acknowledged",
    "changes_applied": "changes (profiles, consents, erasures) pulled and applied",
}


def get_cursor(db: sqlite_utils.Database) -> str:
    row = db.conn.execute("SELECT value FROM state WHERE key = ?", (CURSOR_KEY,)).fetchone()
    return str(row[0]) if row else ""


def set_cursor(conn: sqlite3.Connection, cursor: str) -> None:
    """Inside the caller's transaction, so the cursor moves together with what it covers."""
    conn.execute(
        "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (CURSOR_KEY, cursor),
    )


def bump_counters(conn: sqlite3.Connection, deltas: dict[str, int]) -> None:
    """Add to counters, inside the caller's transaction."""
    for name, delta in deltas.items():
        if name not in COUNTERS:
            raise KeyError(f"unknown sync counter {name!r}")
        if delta:
            conn.execute(
                "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key)"
                " DO UPDATE SET value = CAST(value AS INTEGER) + CAST(excluded.value AS INTEGER)",
                (COUNTER_PREFIX + name, str(delta)),
            )


def read_counters(db: sqlite_utils.Database) -> dict[str, int]:
    found = {
        str(key)[len(COUNTER_PREFIX) :]: int(value)
        for key, value in db.conn.execute("SELECT key, value FROM state WHERE key LIKE ?", (COUNTER_PREFIX + "%",))
    }
    return {name: found.get(name, 0) for name in COUNTERS}
