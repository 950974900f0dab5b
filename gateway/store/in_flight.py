"""Rows of the poison-message quarantine: in-flight markers and the last digest per sensor topic.

The marker is written on its own before the message is worked on, with `synchronous=OFF`: what it
guards against is the process dying (a native crash, an OOM kill, a watchdog's SIGKILL), and a
committed transaction survives that from the kernel's page cache without an fsync. Power loss may
drop a marker; the message then gets one more chance, which is harmless. The next commit (FULL)
makes it durable anyway.
"""

from __future__ import annotations

import sqlite3

import sqlite_utils

from gateway.store.database import Transaction


def note_in_flight(db: sqlite_utils.Database, key: bytes, topic: str, at: float, done: bytes | None = None) -> int:
    """Mark `key` as being worked on, and drop the marker of `done` (the suspect worked on just
    before it, whose result waits for the group's commit); returns how often `key` was marked
    before and never settled (0 for a message seen for the first time as a suspect)."""
    conn = db.conn
    conn.execute("PRAGMA synchronous=OFF")
    try:
        with Transaction(db) as tx:
            if done is not None:
                tx.execute("DELETE FROM in_flight WHERE key = ?", (done,))
            row = tx.execute(
                "INSERT INTO in_flight (key, topic, attempts, first_at) VALUES (?,?,1,?)"
                " ON CONFLICT(key) DO UPDATE SET attempts = attempts + 1 RETURNING attempts",
                (key, topic[:1024], at),
            ).fetchone()
    finally:
        conn.execute("PRAGMA synchronous=FULL")
    return int(row[0]) - 1


def finish_in_flight(db: sqlite_utils.Database, key: bytes) -> None:
    """Drop the marker of a suspect worked on to the end (no fsync, as for `note_in_flight`)."""
    conn = db.conn
    conn.execute("PRAGMA synchronous=OFF")
    try:
        with Transaction(db) as tx:
            tx.execute("DELETE FROM in_flight WHERE key = ?", (key,))
    finally:
        conn.execute("PRAGMA synchronous=FULL")


def clear_in_flight(db: sqlite_utils.Database, keys: list[bytes]) -> None:
    """Forget markers of messages not worked on after all (a clean stop)."""
    with Transaction(db) as tx:
        tx.executemany("DELETE FROM in_flight WHERE key = ?", [(k,) for k in keys])


def settle_in_transaction(tx: sqlite3.Connection, settled: list[bytes], last: dict[str, bytes]) -> None:
    """Inside the batch's own transaction: the markers of its settled suspects go, and the digest of
    the last message per topic is kept."""
    if settled:
        tx.executemany("DELETE FROM in_flight WHERE key = ?", [(k,) for k in settled])
    if last:
        tx.executemany("INSERT OR REPLACE INTO topic_last (topic, digest) VALUES (?,?)", last.items())


def load_topic_last(db: sqlite_utils.Database) -> dict[str, bytes]:
    return {str(topic): bytes(digest) for topic, digest in db.conn.execute("SELECT topic, digest FROM topic_last")}


def in_flight_rows(db: sqlite_utils.Database) -> list[dict[str, object]]:
    return list(db["in_flight"].rows)
