"""Read queries for the operator surface (API, status page, `touchgate status`), plus the
readiness probe. Plain functions taking `db`, so the CLI runs them on its own connection."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from gateway.metrics import StoreSnapshot
from gateway.store.database import Transaction

Row = dict[str, Any]
# Where the sync part keeps its persistent counters (gateway.store.sync_state).
SYNC_COUNTER_PREFIX = "sync.count."


def open_read_only(path: Path) -> sqlite_utils.Database:
    """For `touchgate status` beside a running gateway: never creates, migrates or writes."""
    if not path.exists():
        raise FileNotFoundError(f"no database at {path}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    return sqlite_utils.Database(conn)


def store_snapshot(db: sqlite_utils.Database, now: float | None = None) -> StoreSnapshot:
    now = time.time() if now is None else now
    depth, size, oldest = db.execute("SELECT count(*), coalesce(sum(bytes), 0), min(enqueued_at) FROM outbox").fetchone()
    (last_minute,) = db.execute("SELECT count(*) FROM events WHERE received_at >= ?", [now - 60]).fetchone()
    sync_counts = {
        key[len(SYNC_COUNTER_PREFIX) :]: int(value)
        for key, value in db.execute("SELECT key, value FROM state WHERE key LIKE ?", [SYNC_COUNTER_PREFIX + "%"])
        if str(value).lstrip("-").isdigit()
    }
    return StoreSnapshot(
        outbox_depth=int(depth),
        outbox_bytes=int(size),
        outbox_oldest_age_s=None if oldest is None else max(0.0, now - float(oldest)),
        events_last_minute=int(last_minute),
        sync_counts=sync_counts,
    )


@dataclass(frozen=True, slots=True)
class StoreOverview:
    snapshot: StoreSnapshot
    events_total: int
    last_event_at: float | None
    dead_letters_total: int
    dead_letters_last_hour: int
    dead_letters_by_reason: dict[str, int]
    devices_seen: int
    devices: list[Row]
    recent_dead_letters: list[Row]


def store_overview(db: sqlite_utils.Database, now: float | None = None, devices_limit: int = 50) -> StoreOverview:
    """Everything the status picture needs from the database, in one call (one thread hop)."""
    now = time.time() if now is None else now
    # max(rowid) would be cheaper than count(*) but events ids are TEXT: count is what we have.
    (events_total,) = db.execute("SELECT count(*) FROM events").fetchone()
    (last_event_at,) = db.execute("SELECT max(received_at) FROM events").fetchone()
    by_reason = {r: int(n) for r, n in db.execute("SELECT reason, count(*) FROM dead_letters GROUP BY reason")}
    (last_hour,) = db.execute("SELECT count(*) FROM dead_letters WHERE received_at >= ?", [now - 3600]).fetchone()
    return StoreOverview(
        snapshot=store_snapshot(db, now),
        events_total=int(events_total),
        last_event_at=last_event_at,
        dead_letters_total=sum(by_reason.values()),
        dead_letters_last_hour=int(last_hour),
        dead_letters_by_reason=by_reason,
        devices_seen=count_devices(db),
        devices=list_devices(db, limit=devices_limit),
        recent_dead_letters=dead_letter_page(db, limit=5),
    )


def list_devices(db: sqlite_utils.Database, limit: int = 1000) -> list[Row]:
    return [
        dict(zip(("site", "device", "profile", "last_seen", "messages"), row, strict=True))
        for row in db.execute(
            "SELECT site, device, profile, last_seen, messages FROM devices ORDER BY last_seen DESC LIMIT ?", [limit]
        )
    ]


def count_devices(db: sqlite_utils.Database) -> int:
    return int(db.execute("SELECT count(*) FROM devices").fetchone()[0])


def dead_letter_page(
    db: sqlite_utils.Database, limit: int = 50, before_id: int | None = None, reason: str | None = None
) -> list[Row]:
    """Newest first; the next page starts below the last id returned (a cursor, stable while new
    dead letters arrive, unlike an offset)."""
    clauses: list[str] = []
    params: list[object] = []
    if before_id is not None:
        clauses.append("id < ?")
        params.append(before_id)
    if reason is not None:
        clauses.append("reason = ?")
        params.append(reason)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    cursor = db.execute(
        f"SELECT id, received_at, topic, reason, detail, raw, raw_size FROM dead_letters {where}"  # noqa: S608 - fixed clauses
        " ORDER BY id DESC LIMIT ?",
        [*params, limit],
    )
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def consent_page(
    db: sqlite_utils.Database,
    limit: int = 50,
    offset: int = 0,
    customer_id: str | None = None,
    purpose: str | None = None,
) -> tuple[list[Row], int]:
    """Consents ordered by (customer, purpose), with the total count for paging."""
    clauses: list[str] = []
    params: list[object] = []
    if customer_id is not None:
        clauses.append("customer_id = ?")
        params.append(customer_id)
    if purpose is not None:
        clauses.append("purpose = ?")
        params.append(purpose)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    (total,) = db.execute(f"SELECT count(*) FROM consents {where}", params).fetchone()  # noqa: S608
    cursor = db.execute(
        f"SELECT customer_id, purpose, status, changed_at, source, expires_at FROM consents {where}"  # noqa: S608
        " ORDER BY customer_id, purpose LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor], int(total)


def customer_rows(db: sqlite_utils.Database, customer_id: str) -> dict[str, list[Row]]:
    """Every local row about one customer, table by table (the export when no consent part is
    wired in)."""
    out: dict[str, list[Row]] = {}
    for table in ("events", "outbox", "consents", "profiles"):
        cursor = db.execute(f"SELECT * FROM {table} WHERE customer_id = ?", [customer_id])  # noqa: S608 - fixed names
        names = [c[0] for c in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor]
        for row in rows:
            for key in ("attributes", "body"):
                if isinstance(row.get(key), str):
                    row[key] = json.loads(row[key])
        out[table] = rows
    return out


READINESS_KEY = "api.readiness_probe"


def readiness_probe(db: sqlite_utils.Database) -> None:
    """Prove the store takes writes: one small committed upsert (raises if it cannot)."""
    with Transaction(db) as conn:
        conn.execute(
            "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            [READINESS_KEY, repr(time.time())],
        )
