"""Permanent refusals: an event the service rejects (in a 2xx answer, or by refusing the whole
request with a 4xx) becomes a dead letter with the reason, is never retried, and does not hold
back its neighbours."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from gateway.model.event import Event
from gateway.store.database import connect
from gateway.store.ingest_rows import IngestBatch, write_ingest_batch
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto
from tests.sync.conftest import Central, local_rows, sync_config
from tests.sync.shop import outbox_count


def queue_with_bad_rows(path: Path) -> list[str]:
    good = [
        Event(received_at=time.time(), site="shop1", device="d", kind="occupancy", purpose="analytics", attributes={"n": i})
        for i in range(20)
    ]
    db = connect(path)
    write_ingest_batch(db, IngestBatch(outbox=good[:10]))
    conn: sqlite3.Connection = db.conn
    now = time.time()
    # A body the service finds invalid (rejected in a 200), and one that breaks the whole request (400).
    conn.execute(
        "INSERT INTO outbox (event_id, enqueued_at, purpose, body, bytes) VALUES (?,?,?,?,?)",
        ("bad-kind", now, "analytics", '{"id":"bad-kind","received_at":1,"site":"s","device":"d","kind":"Bad","purpose":"analytics"}', 90),
    )
    conn.execute(
        "INSERT INTO outbox (event_id, enqueued_at, purpose, body, bytes) VALUES (?,?,?,?,?)",
        ("not-an-object", now, "analytics", "[1,2]", 5),
    )
    write_ingest_batch(db, IngestBatch(outbox=good[10:]))
    conn.close()
    return [e.id for e in good]


async def test_rejections_become_dead_letters_once(broker: Mosquitto, central: Central, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path, sync=sync_config(central.url))
    good = queue_with_bad_rows(settings.store.path)
    async with running_gateway(settings):
        await wait_until(lambda: outbox_count(settings.store.path) == 0, timeout=15)
    assert sorted(central.event_ids()) == sorted(good)
    letters = local_rows(settings.store.path, "SELECT reason, detail FROM dead_letters ORDER BY detail")
    assert [reason for reason, _ in letters] == ["sync_rejected", "sync_rejected"]
    assert letters[0][1].startswith("bad-kind: invalid_event: kind")
    assert letters[1][1].startswith("not-an-object: HTTP 400 invalid_body")
    assert central.stats()["events_rejected"] == 1  # rejected once, never sent again
    counts = dict(local_rows(settings.store.path, "SELECT key, value FROM state WHERE key LIKE 'sync.count.%'"))
    assert counts["sync.count.rejected"] == "2" and counts["sync.count.sent"] == "20"
