"""Queries of the ingest path: one transaction per batch of events and dead letters."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import sqlite_utils

from gateway.model.deadletter import DeadLetter
from gateway.model.event import Event, event_json
from gateway.store.database import Transaction
from gateway.store.in_flight import settle_in_transaction


@dataclass(slots=True)
class IngestBatch:
    events: list[Event] = field(default_factory=list)
    outbox: list[Event] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    delivered: dict[int, bytes] = field(default_factory=dict)
    # Quarantine bookkeeping (gateway/quarantine.py): suspects settled by this batch, and the
    # digest of the last message per sensor topic.
    settled_in_flight: list[bytes] = field(default_factory=list)
    topic_last: dict[str, bytes] = field(default_factory=dict)

    def merge(self, other: IngestBatch) -> None:
        """Append `other` (built after this one) so both commit in one transaction."""
        self.events.extend(other.events)
        self.outbox.extend(other.outbox)
        self.dead_letters.extend(other.dead_letters)
        self.delivered.update(other.delivered)
        self.settled_in_flight.extend(other.settled_in_flight)
        self.topic_last.update(other.topic_last)


def event_row(event: Event, attributes_json: str | None = None) -> tuple[object, ...]:
    return (
        event.id,
        event.received_at,
        event.device_time,
        event.site,
        event.device,
        event.kind,
        event.purpose,
        event.customer_id,
        event.profile,
        event.topic,
        json.dumps(event.attributes, separators=(",", ":")) if attributes_json is None else attributes_json,
    )


# The outbox body ends with the attributes (the Event's last field), so the events row can take
# its attributes JSON from the body instead of serialising them a second time. A JSON string
# never holds an unescaped `"`, so the first `,"attributes":` is the key itself.
_ATTRIBUTES_KEY = ',"attributes":'


def _attributes_of_body(body: str) -> str:
    return body[body.index(_ATTRIBUTES_KEY) + len(_ATTRIBUTES_KEY) : -1]


def outbox_body(event: Event) -> str:
    """The JSON the central service receives for an event (its sync API's event shape)."""
    return event_json(event, exclude={"profile", "topic"})


def write_ingest_batch(db: sqlite_utils.Database, batch: IngestBatch) -> None:
    """Commit a batch in one transaction (one fsync). INSERT OR IGNORE: a redelivered message
    after a crash carries a new event id, but replays of the same event stay single."""
    # Bodies first: an event that is both stored and queued (the same object) reuses its
    # attributes JSON from the body. Keyed by id(): the batch keeps every event alive meanwhile.
    outbox_rows = []
    attributes_json: dict[int, str] = {}
    for e in batch.outbox:
        body = outbox_body(e)
        attributes_json[id(e)] = _attributes_of_body(body)
        outbox_rows.append((e.id, e.received_at, e.customer_id, e.purpose, e.kind, body, len(body)))
    with Transaction(db) as conn:
        if batch.events:
            conn.executemany(
                "INSERT OR IGNORE INTO events (id, received_at, device_time, site, device, kind, purpose,"
                " customer_id, profile, topic, attributes) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [event_row(e, attributes_json.get(id(e))) for e in batch.events],
            )
            # One upsert per device per batch, not per event.
            seen: dict[tuple[str, str], list[object]] = {}
            for e in batch.events:
                entry = seen.setdefault((e.site, e.device), [e.profile, e.received_at, 0])
                entry[0], entry[1], entry[2] = e.profile, e.received_at, int(entry[2]) + 1  # type: ignore[call-overload]
            conn.executemany(
                "INSERT INTO devices (site, device, profile, last_seen, messages) VALUES (?,?,?,?,?)"
                " ON CONFLICT(site, device) DO UPDATE SET last_seen=excluded.last_seen,"
                " profile=excluded.profile, messages=messages+excluded.messages",
                [(site, device, *entry) for (site, device), entry in seen.items()],
            )
        if outbox_rows:
            conn.executemany(
                "INSERT OR IGNORE INTO outbox (event_id, enqueued_at, customer_id, purpose, kind, body, bytes)"
                " VALUES (?,?,?,?,?,?,?)",
                outbox_rows,
            )
        if batch.delivered:
            conn.executemany("INSERT OR REPLACE INTO delivered (mid, digest) VALUES (?,?)", batch.delivered.items())
        if batch.settled_in_flight or batch.topic_last:
            settle_in_transaction(conn, batch.settled_in_flight, batch.topic_last)
        if batch.dead_letters:
            conn.executemany(
                "INSERT INTO dead_letters (received_at, topic, reason, detail, raw, raw_size, customer_pseudonym, raw_state)"
                " VALUES (?,?,?,?,?,?,?,?)",
                [
                    (d.received_at, d.topic, d.reason.value, d.detail, d.raw, d.raw_size, d.customer_pseudonym, d.raw_state)
                    for d in batch.dead_letters
                ],
            )


def load_delivered(db: sqlite_utils.Database) -> dict[int, bytes]:
    return {int(mid): bytes(digest) for mid, digest in db.conn.execute("SELECT mid, digest FROM delivered")}


def count_rows(db: sqlite_utils.Database, table: str) -> int:
    return db[table].count


def dead_letters(db: sqlite_utils.Database, limit: int = 100, before_id: int | None = None) -> list[dict[str, object]]:
    where, params = ("id < ?", [before_id]) if before_id is not None else (None, [])
    return list(db["dead_letters"].rows_where(where, params, order_by="id desc", limit=limit))
