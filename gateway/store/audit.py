"""The audit table's queries, on plain rows. The chain (hashing, verification) is the consent
part's (gateway/consent/audit_log.py), which appends through these inside the caller's
transaction. The head (last seq and hash) is also kept in the `state` table, which catches
entries removed at the end of the log.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import sqlite_utils

HEAD_KEY = "audit.head"
AuditTuple = tuple[int, float, str, str, str, str]  # seq, at, kind, detail (JSON), prev_hash, hash


def last_audit_entry(conn: sqlite3.Connection) -> tuple[int, str] | None:
    """(seq, hash) of the last entry, or None for an empty log."""
    row = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def insert_audit_entry(conn: sqlite3.Connection, entry: AuditTuple) -> None:
    """Insert one entry and move the recorded head to it (inside the caller's transaction)."""
    seq, _, _, _, _, digest = entry
    conn.execute("INSERT INTO audit (seq, at, kind, detail, prev_hash, hash) VALUES (?,?,?,?,?,?)", entry)
    conn.execute(
        "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
        (HEAD_KEY, f"{seq}:{digest}"),
    )


def iter_audit_rows(db: sqlite_utils.Database, after_seq: int = 0) -> Iterator[AuditTuple]:
    cursor = db.conn.execute(
        "SELECT seq, at, kind, detail, prev_hash, hash FROM audit WHERE seq > ? ORDER BY seq", (after_seq,)
    )
    yield from cursor


def recorded_head(db: sqlite_utils.Database) -> tuple[int, str] | None:
    row = db.conn.execute("SELECT value FROM state WHERE key = ?", (HEAD_KEY,)).fetchone()
    if row is None:
        return None
    seq, _, digest = str(row[0]).partition(":")
    return int(seq), digest


def audit_mentioning(db: sqlite_utils.Database, text: str) -> list[dict[str, Any]]:
    """Entries whose detail mentions `text` (a pseudonym): for a customer's export."""
    rows = db.conn.execute(
        "SELECT seq, at, kind, detail FROM audit WHERE instr(detail, ?) > 0 ORDER BY seq", (text,)
    ).fetchall()
    return [{"seq": s, "at": a, "kind": k, "detail": d} for s, a, k, d in rows]
