"""Erasure (GDPR art. 17) and export (art. 15) of one customer's local data.

Every table with a `customer_id` column holds personal rows, including tables other parts add
later, so both are driven by the schema rather than a fixed list (give such columns an index:
erasure and export must stay under a second on a large store). Dead letters never hold the id
in clear (gateway/devices/redaction.py): they name the customer by keyed pseudonym, in an indexed
column matched exactly, so an id that is a substring of other data (`"`, `%`, a prefix of
another customer's id) finds nothing of anyone else.

An erasure leaves two things behind on purpose:
- `erasures`: the erasure record — the customer's keyed hash (never the id), when, from where,
  how many rows went — so the erasure is provable and a stale consent pulled from the central
  service cannot bring the customer back.
- `erasures_outbox`: the id in clear, only until the sync helper has delivered the erasure to the
  central service (`POST /v1/erasures`), which then deletes the row.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import sqlite_utils

from gateway.consent.model import ConsentSource, CustomerExport, ErasureResult
from gateway.consent.audit_log import append_audit, audit_mentioning
from gateway.store.database import Transaction

# Holds the id on purpose until delivered upstream (see module docstring).
_KEPT_FOR_DELIVERY = frozenset({"erasures_outbox"})


def customer_tables(conn: sqlite3.Connection) -> list[str]:
    """Tables with a `customer_id` column, except the erasure queue."""
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    found = []
    for name in sorted(names):
        columns = {r[1] for r in conn.execute(f'PRAGMA table_info("{name}")')}
        if "customer_id" in columns and name not in _KEPT_FOR_DELIVERY:
            found.append(name)
    return found


def delete_local_rows(conn: sqlite3.Connection, customer_id: str, pseudonym: str) -> dict[str, int]:
    """Delete every local row about the customer; call inside a transaction."""
    deleted: dict[str, int] = {}
    for table in customer_tables(conn):
        deleted[table] = conn.execute(f'DELETE FROM "{table}" WHERE customer_id = ?', (customer_id,)).rowcount
    deleted["dead_letters"] = conn.execute("DELETE FROM dead_letters WHERE customer_pseudonym = ?", (pseudonym,)).rowcount
    return deleted


def erase_customer(
    db: sqlite_utils.Database, customer_id: str, *, pseudonym: str, source: ConsentSource, now: float
) -> ErasureResult:
    """One transaction: delete the rows, keep the erasure record, queue it upstream (unless it
    came from the central service), audit it."""
    with Transaction(db) as conn:
        deleted = delete_local_rows(conn, customer_id, pseudonym)
        cursor = conn.execute(
            "INSERT INTO erasures (pseudonym, requested_at, source, deleted) VALUES (?,?,?,?)",
            (pseudonym, now, source.value, json.dumps(deleted, sort_keys=True)),
        )
        erasure_id = int(cursor.lastrowid or 0)
        if source is not ConsentSource.CENTRAL:  # an erasure that came from there needs no echo
            conn.execute(
                "INSERT INTO erasures_outbox (erasure_id, customer_id, requested_at) VALUES (?,?,?)",
                (erasure_id, customer_id, now),
            )
        append_audit(
            conn, "erasure", {"customer": pseudonym, "erasure_id": erasure_id, "source": source.value, "deleted": deleted}, now
        )
    return ErasureResult(erasure_id=erasure_id, pseudonym=pseudonym, deleted=deleted)


def load_erased(db: sqlite_utils.Database) -> list[tuple[str, float]]:
    """(pseudonym, time of the latest erasure) of every erased customer."""
    return [(p, t) for p, t in db.conn.execute("SELECT pseudonym, MAX(requested_at) FROM erasures GROUP BY pseudonym")]


def latest_erasure_id(db: sqlite_utils.Database) -> int:
    return int(db.conn.execute("SELECT COALESCE(MAX(id), 0) FROM erasures").fetchone()[0])


def erasures_after(db: sqlite_utils.Database, after_id: int) -> list[tuple[int, str, str | None]]:
    """(id, pseudonym, customer id while still queued upstream) of erasures newer than `after_id`."""
    return [
        (i, p, c)
        for i, p, c in db.conn.execute(
            "SELECT e.id, e.pseudonym, o.customer_id FROM erasures e LEFT JOIN erasures_outbox o ON o.erasure_id = e.id"
            " WHERE e.id > ? ORDER BY e.id",
            (after_id,),
        )
    ]


def repeat_erasure(db: sqlite_utils.Database, customer_id: str, pseudonym: str) -> dict[str, int]:
    """Delete again rows written by this process between an erasure done elsewhere (the CLI) and
    the moment this process learnt of it. No new record: the erasure is the same."""
    with Transaction(db) as conn:
        return delete_local_rows(conn, customer_id, pseudonym)


def export_customer(db: sqlite_utils.Database, customer_id: str, *, pseudonym: str, now: float) -> CustomerExport:
    """All local data about the customer, and an audit entry saying it was exported."""
    with Transaction(db) as conn:
        tables = {table: list(rows) for table, rows in customer_table_rows(conn, customer_id, pseudonym)}
        audit = audit_mentioning(db, pseudonym)
        append_audit(conn, "export", {"customer": pseudonym, "rows": {t: len(r) for t, r in tables.items()}}, now)
    return CustomerExport(customer_id=customer_id, exported_at=now, pseudonym=pseudonym, tables=tables, audit=audit)


def customer_table_rows(
    conn: sqlite3.Connection, customer_id: str, pseudonym: str
) -> Iterator[tuple[str, Iterator[dict[str, Any]]]]:
    """Every table that may hold the customer's rows, each with its rows read lazily (readable:
    JSON columns as JSON, bytes as text), dead letters last. Consume each table's rows before
    moving on; `touchgate export` streams them to a file this way."""
    for table in customer_tables(conn):
        yield table, _rows(conn.execute(f'SELECT * FROM "{table}" WHERE customer_id = ?', (customer_id,)))
    yield "dead_letters", _rows(conn.execute(
        "SELECT id, received_at, topic, reason, detail, raw, raw_size, raw_state FROM dead_letters"
        " WHERE customer_pseudonym = ? ORDER BY id",
        (pseudonym,),
    ))


def customer_row_count(conn: sqlite3.Connection, customer_id: str, pseudonym: str) -> int:
    """How many rows `customer_table_rows` yields (the size of an export, for a progress bar)."""
    total = sum(
        int(conn.execute(f'SELECT COUNT(*) FROM "{table}" WHERE customer_id = ?', (customer_id,)).fetchone()[0])
        for table in customer_tables(conn)
    )
    return total + int(conn.execute("SELECT COUNT(*) FROM dead_letters WHERE customer_pseudonym = ?", (pseudonym,)).fetchone()[0])


def _rows(cursor: sqlite3.Cursor) -> Iterator[dict[str, Any]]:
    columns = [d[0] for d in cursor.description]
    for row in cursor:
        yield _readable(dict(zip(columns, row, strict=True)))


def _readable(row: dict[str, Any]) -> dict[str, Any]:
    """JSON columns as JSON, bytes as text, so the export reads as one JSON document."""
    for key, value in row.items():
        if isinstance(value, bytes):
            row[key] = value.decode("utf-8", errors="replace")
        elif key in ("attributes", "body") and isinstance(value, str):
            try:
                row[key] = json.loads(value)
            except ValueError:
                pass
    return row
