"""The audit log: append an entry chained to the previous one, read, verify (the chain is
gateway/consent/chain.py; the SQL is gateway/store/audit.py).

Appends happen inside the caller's transaction, so an audited change and its audit entry commit
together or not at all. Other parts audit through the consent part's AUDIT_APPEND port.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import sqlite_utils

from gateway.consent.chain import GENESIS, AuditRow, Verdict, canonical_detail, entry_hash, verify_chain
from gateway.store.audit import audit_mentioning, insert_audit_entry, iter_audit_rows, last_audit_entry, recorded_head
from gateway.store.database import Transaction

__all__ = ["append_audit", "audit_mentioning", "iter_audit", "record_audit", "verify_audit"]


def append_audit(conn: sqlite3.Connection, kind: str, detail: dict[str, Any], at: float) -> int:
    """Append one entry; call inside a transaction (BEGIN IMMEDIATE holds the write lock, so two
    processes cannot chain onto the same predecessor)."""
    if not conn.in_transaction:
        raise RuntimeError("append_audit must run inside a transaction")
    last = last_audit_entry(conn)
    prev_seq, prev_hash = last if last is not None else (0, GENESIS)
    seq = prev_seq + 1
    detail_json = canonical_detail(detail)
    digest = entry_hash(prev_hash, seq, at, kind, detail_json)
    insert_audit_entry(conn, (seq, at, kind, detail_json, prev_hash, digest))
    return seq


def record_audit(db: sqlite_utils.Database, kind: str, detail: dict[str, Any], at: float) -> int:
    """Append one entry in its own transaction."""
    with Transaction(db) as conn:
        return append_audit(conn, kind, detail, at)


def iter_audit(db: sqlite_utils.Database, after_seq: int = 0) -> Iterator[AuditRow]:
    for row in iter_audit_rows(db, after_seq):
        yield AuditRow(*row)


def verify_audit(db: sqlite_utils.Database) -> Verdict:
    # One read transaction, so a writer appending meanwhile cannot make the head and rows disagree.
    conn = db.conn
    conn.execute("BEGIN")
    try:
        return verify_chain(iter_audit(db), recorded_head(db))
    finally:
        conn.execute("COMMIT")
