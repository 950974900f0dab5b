"""Outbox queries for sync: read the oldest batch, settle a reply, purge, enforce budget and TTL.

Order is insertion order (rowid): the oldest queued event leaves first and is dropped first.
A row leaves the outbox only in the transaction that records why (accepted, rejected → dead
letter, dropped → counter, purged → counter), so a crash at any point loses or doubles nothing.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import sqlite_utils

from gateway.model.deadletter import DeadLetterReason
from gateway.store.database import Transaction
from gateway.store.sync_state import bump_counters

DEAD_LETTER_TOPIC = "sync/events:batch"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    rowid: int
    event_id: str
    enqueued_at: float
    customer_id: str | None
    purpose: str
    body: str
    bytes: int
    attempts: int
    kind: str  # the event kind (also in the body): counted per kind once the service accepts it


@dataclass(frozen=True, slots=True)
class OutboxStats:
    events: int
    bytes: int
    oldest_enqueued_at: float | None


@dataclass(frozen=True, slots=True)
class Dropped:
    budget: int = 0
    budget_bytes: int = 0
    ttl: int = 0
    ttl_bytes: int = 0

    @property
    def total(self) -> int:
        return self.budget + self.ttl


def fetch_batch(db: sqlite_utils.Database, max_events: int, max_bytes: int, now: float) -> list[OutboxItem]:
    """The oldest due events, at most `max_events` and `max_bytes` (but always one if any is due)."""
    rows = db.conn.execute(
        "SELECT rowid, event_id, enqueued_at, customer_id, purpose, body, bytes, attempts, kind FROM outbox"
        " WHERE next_attempt_at <= ? ORDER BY rowid LIMIT ?",
        (now, max_events),
    ).fetchall()
    batch: list[OutboxItem] = []
    total = 0
    for row in rows:
        total += int(row[6])
        if batch and total > max_bytes:
            break
        batch.append(OutboxItem(*row))
    return batch


def make_due(db: sqlite_utils.Database, now: float) -> int:
    """Everything waiting for a later attempt becomes due now (`touchgate sync drain`: the operator
    asks for now). Returns how many rows were waiting."""
    with Transaction(db) as conn:
        return int(conn.execute("UPDATE outbox SET next_attempt_at = ? WHERE next_attempt_at > ?", (now, now)).rowcount)


def next_attempt_at(db: sqlite_utils.Database) -> float | None:
    """When the earliest queued event is due (None: the outbox is empty)."""
    value = db.conn.execute("SELECT MIN(next_attempt_at) FROM outbox").fetchone()[0]
    return None if value is None else float(value)


def settle(
    db: sqlite_utils.Database,
    accepted: Sequence[str],
    rejected: Sequence[tuple[OutboxItem, str]],
    retry: Sequence[str],
    retry_at: float,
    raw_cap: int,
    pseudonymise: Callable[[str], str] | None = None,
) -> None:
    """Apply one reply in one transaction: accepted ids leave, rejected ones become dead letters
    (never retried), the ones the reply did not mention wait until `retry_at`. A rejected personal
    event's dead letter holds no customer id: it is cut out of the body, and the customer named by
    `pseudonymise` (the consent part's) so erasure and export find it exactly."""
    now = time.time()
    with Transaction(db) as conn:
        conn.executemany("DELETE FROM outbox WHERE event_id = ?", [(i,) for i in accepted])
        if rejected:
            conn.executemany(
                "INSERT INTO dead_letters (received_at, topic, reason, detail, raw, raw_size, customer_pseudonym, raw_state)"
                " VALUES (?,?,?,?,?,?,?,?)",
                [
                    (now, DEAD_LETTER_TOPIC, DeadLetterReason.SYNC_REJECTED.value, f"{item.event_id}: {reason}"[:500],
                     *_without_customer(item, raw_cap, pseudonymise))
                    for item, reason in rejected
                ],
            )
            conn.executemany("DELETE FROM outbox WHERE event_id = ?", [(item.event_id,) for item, _ in rejected])
        defer_rows(conn, retry, retry_at)
        bump_counters(conn, {"sent": len(accepted), "rejected": len(rejected)})


def defer(db: sqlite_utils.Database, event_ids: Iterable[str], retry_at: float) -> None:
    """A failed attempt (timeout, 5xx, 429, connection lost): count it, retry later."""
    with Transaction(db) as conn:
        defer_rows(conn, event_ids, retry_at)


def defer_rows(conn: sqlite3.Connection, event_ids: Iterable[str], retry_at: float) -> None:
    conn.executemany(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE event_id = ?",
        [(retry_at, i) for i in event_ids],
    )


def purge(db: sqlite_utils.Database, event_ids: Sequence[str]) -> None:
    """Remove queued personal events whose consent no longer holds (checked just before sending)."""
    with Transaction(db) as conn:
        conn.executemany("DELETE FROM outbox WHERE event_id = ?", [(i,) for i in event_ids])
        bump_counters(conn, {"purged_consent": len(event_ids)})


def enforce_limits(db: sqlite_utils.Database, max_bytes: int, ttl_s: float, now: float) -> Dropped:
    """Drop what waited past the TTL, then the oldest until the outbox fits its byte budget;
    count both. Bounded outbox, bounded disk: SQLite reuses the freed pages."""
    with Transaction(db) as conn:
        cutoff = now - ttl_s
        ttl_count, ttl_bytes = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM outbox WHERE enqueued_at < ?", (cutoff,)
        ).fetchone()
        if ttl_count:
            conn.execute("DELETE FROM outbox WHERE enqueued_at < ?", (cutoff,))
        total = conn.execute("SELECT COALESCE(SUM(bytes), 0) FROM outbox").fetchone()[0]
        budget_count = budget_bytes = 0
        if total > max_bytes:
            excess = total - max_bytes
            last_rowid = None
            for rowid, size in conn.execute("SELECT rowid, bytes FROM outbox ORDER BY rowid"):
                budget_count += 1
                budget_bytes += int(size)
                last_rowid = rowid
                if budget_bytes >= excess:
                    break
            conn.execute("DELETE FROM outbox WHERE rowid <= ?", (last_rowid,))
        dropped = Dropped(budget_count, budget_bytes, int(ttl_count), int(ttl_bytes))
        bump_counters(
            conn,
            {
                "dropped_budget": dropped.budget,
                "dropped_budget_bytes": dropped.budget_bytes,
                "dropped_ttl": dropped.ttl,
                "dropped_ttl_bytes": dropped.ttl_bytes,
            },
        )
    return dropped


def outbox_stats(db: sqlite_utils.Database) -> OutboxStats:
    count, size, oldest = db.conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(bytes), 0), MIN(enqueued_at) FROM outbox"
    ).fetchone()
    return OutboxStats(int(count), int(size), oldest)


def sync_dead_letters(db: sqlite_utils.Database) -> int:
    return int(
        db.conn.execute(
            "SELECT COUNT(*) FROM dead_letters WHERE reason = ?", (DeadLetterReason.SYNC_REJECTED.value,)
        ).fetchone()[0]
    )


# -- erasures queued upstream ----------------------------------------------------------------
# The consent part's erasure writes `erasures_outbox` (erasure_id, customer_id, requested_at) in
# the transaction that deletes the customer's rows; sync delivers and then deletes them.


@dataclass(frozen=True, slots=True)
class QueuedErasure:
    erasure_id: int
    customer_id: str
    requested_at: float


def has_erasure_queue(db: sqlite_utils.Database) -> bool:
    return "erasures_outbox" in db.table_names()


def queued_erasures(db: sqlite_utils.Database, limit: int) -> list[QueuedErasure]:
    if not has_erasure_queue(db):
        return []
    rows = db.conn.execute(
        "SELECT erasure_id, customer_id, requested_at FROM erasures_outbox ORDER BY erasure_id LIMIT ?", (limit,)
    ).fetchall()
    return [QueuedErasure(int(i), str(c), float(t)) for i, c, t in rows]


def delete_delivered_erasures(db: sqlite_utils.Database, erasure_ids: Sequence[int]) -> None:
    with Transaction(db) as conn:
        conn.executemany("DELETE FROM erasures_outbox WHERE erasure_id = ?", [(i,) for i in erasure_ids])
        bump_counters(conn, {"erasures_sent": len(erasure_ids)})


def _without_customer(
    item: OutboxItem, raw_cap: int, pseudonymise: Callable[[str], str] | None
) -> tuple[bytes, int, str | None, str]:
    """(raw, raw_size, customer_pseudonym, raw_state) of a rejected event's dead letter."""
    if item.customer_id is None:
        return item.body.encode()[:raw_cap], item.bytes, None, "kept"
    body = json.loads(item.body)  # written by outbox_body(): always a JSON object
    body["customer_id"] = "<redacted>"
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()[:raw_cap]
    return raw, item.bytes, pseudonymise(item.customer_id) if pseudonymise is not None else None, "redacted"
