"""Analytics queries: hours and minute series of the zones, retention, and the release of
k-anonymous aggregates into the outbox in the same transaction that marks them settled."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlite_utils

from gateway.model.zone_tally import HOUR_COLUMNS, HourTally, SeriesPoint, tally_from_row
from gateway.model.event import Event
from gateway.store.database import Transaction
from gateway.store.ingest_rows import outbox_body

_HOUR_SELECT = f"SELECT {', '.join(HOUR_COLUMNS)} FROM analytics_hours"
_HOUR_UPSERT = (
    f"INSERT INTO analytics_hours ({', '.join(HOUR_COLUMNS)}) VALUES ({', '.join('?' * len(HOUR_COLUMNS))})"
    " ON CONFLICT(zone, hour) DO UPDATE SET "
    + ", ".join(f"{c}=excluded.{c}" for c in HOUR_COLUMNS if c not in ("zone", "hour", "settled"))
)
_SERIES_COLUMNS = ("zone", "minute", "occupancy", "occupancy_max", "queue", "devices", "motion")


def write_figures(
    db: sqlite_utils.Database, hours: Sequence[HourTally], series: Sequence[SeriesPoint],
    series_before: float, hours_before: float,
) -> None:
    """One transaction: the hours' running totals (settled bits are never overwritten here), new
    minute points, and what has passed its retention."""
    with Transaction(db) as conn:
        if hours:
            conn.executemany(_HOUR_UPSERT, [h.row() for h in hours])
        if series:
            conn.executemany(
                f"INSERT OR REPLACE INTO analytics_series ({', '.join(_SERIES_COLUMNS)}) VALUES (?,?,?,?,?,?,?)",
                [(p.zone, p.minute, p.occupancy, p.occupancy_max, p.queue, p.devices, p.motion) for p in series],
            )
        conn.execute("DELETE FROM analytics_series WHERE minute < ?", (series_before,))
        conn.execute("DELETE FROM analytics_hours WHERE hour < ?", (hours_before,))


def load_hours(db: sqlite_utils.Database, since: float, zone: str | None = None) -> list[HourTally]:
    where, params = ("hour >= ?", [since]) if zone is None else ("hour >= ? AND zone = ?", [since, zone])
    rows = db.conn.execute(f"{_HOUR_SELECT} WHERE {where} ORDER BY hour, zone", params).fetchall()
    return [tally_from_row(tuple(r)) for r in rows]


def unsettled_hours(db: sqlite_utils.Database, since: float, all_bits: int) -> list[HourTally]:
    rows = db.conn.execute(f"{_HOUR_SELECT} WHERE hour >= ? AND settled != ? ORDER BY hour, zone", (since, all_bits)).fetchall()
    return [tally_from_row(tuple(r)) for r in rows]


def load_series(db: sqlite_utils.Database, since: float, zone: str | None = None) -> list[SeriesPoint]:
    where, params = ("minute >= ?", [since]) if zone is None else ("minute >= ? AND zone = ?", [since, zone])
    rows = db.conn.execute(
        f"SELECT {', '.join(_SERIES_COLUMNS)} FROM analytics_series WHERE {where} ORDER BY zone, minute", params
    ).fetchall()
    return [SeriesPoint(*r) for r in rows]


def last_counted(db: sqlite_utils.Database, since: float) -> dict[str, int]:
    """Each zone's occupancy at its newest minute point since `since` (taken up after a restart)."""
    rows = db.conn.execute(
        "SELECT s.zone, s.occupancy FROM analytics_series AS s"
        " JOIN (SELECT zone, MAX(minute) AS minute FROM analytics_series WHERE minute >= ? GROUP BY zone) AS m"
        " ON s.zone = m.zone AND s.minute = m.minute",
        (since,),
    ).fetchall()
    return {str(zone): int(value) for zone, value in rows}


def release_aggregates(
    db: sqlite_utils.Database, settled: dict[tuple[str, int], int], events: Iterable[Event]
) -> None:
    """Mark groups settled and queue the aggregates for sync, in one transaction: a crash leaves
    both or neither, so an aggregate is never sent twice nor a group released twice."""
    rows = []
    for event in events:
        body = outbox_body(event)
        rows.append((event.id, event.received_at, event.customer_id, event.purpose, event.kind, body, len(body)))
    with Transaction(db) as conn:
        conn.executemany(
            "UPDATE analytics_hours SET settled = settled | ? WHERE zone = ? AND hour = ?",
            [(bits, zone, hour) for (zone, hour), bits in settled.items()],
        )
        conn.executemany(
            "INSERT OR IGNORE INTO outbox (event_id, enqueued_at, customer_id, purpose, kind, body, bytes)"
            " VALUES (?,?,?,?,?,?,?)",
            rows,
        )
