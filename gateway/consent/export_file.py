"""`touchgate export CUSTOMER`, streamed: a customer with a long history (hundreds of thousands of
events) is written row by row, never held in memory, with a progress bar on a terminal.

The document is the same `CustomerExport` the API returns (GDPR art. 15). It is read from one
snapshot of the store (a read transaction: WAL lets the gateway keep writing meanwhile, without
waiting for us); the audit entry saying what was exported is written once the rows are out.
"""

from __future__ import annotations

import json
from typing import IO, Any

import sqlite_utils

from gateway.progress import progress
from gateway.consent.audit_log import append_audit, audit_mentioning
from gateway.store.database import Transaction
from gateway.consent.erasure_rows import customer_row_count, customer_table_rows

# Redraw bookkeeping once per this many rows, not per row.
PROGRESS_STEP = 500


def write_customer_export(
    db: sqlite_utils.Database,
    customer_id: str,
    *,
    pseudonym: str,
    now: float,
    out: IO[str],
    bar_stream: IO[str] | None = None,
    show_progress: bool | None = None,
) -> dict[str, int]:
    """Write the export as JSON to `out`; returns the rows written per table (also audited)."""
    conn = db.conn
    written: dict[str, int] = {}
    conn.execute("BEGIN")  # deferred: a read snapshot, no write lock held while we write the file
    try:
        total = customer_row_count(conn, customer_id, pseudonym)
        audit = audit_mentioning(db, pseudonym)
        out.write("{\n")
        for key, value in (("customer_id", customer_id), ("exported_at", now), ("pseudonym", pseudonym)):
            out.write(f"  {_json(key)}: {_json(value)},\n")
        out.write('  "tables": {')
        with progress(total, "export", unit="rows", stream=bar_stream, enabled=show_progress) as bar:
            for index, (table, rows) in enumerate(customer_table_rows(conn, customer_id, pseudonym)):
                out.write(("," if index else "") + f"\n    {_json(table)}: [")
                count = 0
                for row in rows:
                    out.write(("," if count else "") + "\n      " + _json(row))
                    count += 1
                    if count % PROGRESS_STEP == 0:
                        bar.advance(PROGRESS_STEP)
                bar.advance(count % PROGRESS_STEP)
                out.write("\n    ]" if count else "]")
                written[table] = count
        out.write('\n  },\n  "audit": ' + _json(audit) + "\n}\n")
    finally:
        conn.execute("COMMIT")  # ends the read snapshot (nothing was written in it)
    with Transaction(db) as write:
        append_audit(write, "export", {"customer": pseudonym, "rows": written}, now)
    return written


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
