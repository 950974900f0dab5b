"""The audit log's queries: append an entry (chained to the previous one), read, verify.

Appends happen inside the caller's transaction, so an audited change and its audit entry commit
together or not at all. The head (last seq and hash) is also kept in the `state` table, which
catches entries removed at the end of the log.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import sqlite_utils

from gateway.consent.chain import GENESIS, AuditRow, Verdict, canonical_detail, entry_hash, verify_chain
from gateway.store.database import Transaction

HEAD_KEY = "audit.head"


def append_audit(conn: sqlite3.Connection, kind: str, detail: dict[str, Any], at: float) -> int:
    """Append one entry; call inside a transaction (BEGIN IMMEDIATE holds the write lock, so two
    processes cannot chain onto the same predecessor)."""
    if not conn.in_transaction:
        raise RuntimeError("append_audit must run inside a transaction")
    last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    prev_seq, prev_hash = (last[0], last[1]) if last else (0, GENESIS)
    seq = prev_seq + 1
    detail_json = canonical_detail(detail)
    digest = entry_hash(prev_hash, seq, at, kind, detail_json)
    conn.execute(
        "INSERT INTO audit (seq, at, kind, detail, prev_hash, hash) VALUES (?,?,?,?,?,?)",
        (seq, at, kind, detail_json, prev_hash, digest),
    )
    conn.execute(
        "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
        (HEAD_KEY, f"{seq}:{digest}"),
    )
    return seq


def record_audit(db: sqlite_utils.Database, kind: str, detail: dict[str, Any], at: float) -> int:
    """Append one entry in its own transaction."""
    with Transaction(db) as conn:
        return append_audit(conn, kind, detail, at)


def iter_audit(db: sqlite_utils.Database, after_seq: int = 0) -> Iterator[AuditRow]:
    cursor = db.conn.execute(
        "SELECT seq, at, kind, detail, prev_hash, hash FROM audit WHERE seq > ? ORDER BY seq", (after_seq,)
    )
    for seq, at, kind, detail, prev_hash, digest in cursor:
        yield AuditRow(seq, at, kind, detail, prev_hash, digest)


def recorded_head(db: sqlite_utils.Database) -> tuple[int, str] | None:
    row = db.conn.execute("SELECT value FROM state WHERE key = ?", (HEAD_KEY,)).fetchone()
    if row is None:
        return None
    seq, _, digest = str(row[0]).partition(":")
    return int(seq), digest


def verify_audit(db: sqlite_utils.Database) -> Verdict:
    # One read transaction, so a writer appending meanwhile cannot make the head and rows disagree.
    conn = db.conn
    conn.execute("BEGIN")
    try:
        return verify_chain(iter_audit(db), recorded_head(db))
    finally:
        conn.execute("COMMIT")


def audit_mentioning(db: sqlite_utils.Database, text: str) -> list[dict[str, Any]]:
    """Entries whose detail mentions `text` (a pseudonym): for a customer's export."""
    rows = db.conn.execute(
        "SELECT seq, at, kind, detail FROM audit WHERE instr(detail, ?) > 0 ORDER BY seq", (text,)
    ).fetchall()
    return [{"seq": s, "at": a, "kind": k, "detail": d} for s, a, k, d in rows]
