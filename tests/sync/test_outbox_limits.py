"""The outbox's byte budget and TTL: the oldest go first, every drop is counted and reported, and
the gateway keeps running with the outbox bounded while the service is down."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from gateway.model.event import Event
from gateway.store.database import connect
from gateway.store.ingest_rows import IngestBatch, write_ingest_batch
from gateway.store.outbox import enforce_limits, fetch_batch, outbox_stats
from gateway.store.sync_state import read_counters
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto
from tests.sync.conftest import Central, local_rows, sync_config, sync_parts
from tests.sync.faulty_proxy import Fault, FaultyProxy
from tests.sync.shop import outbox_count, publish, shop_traffic


def queue(db_path: Path, received_at: list[float]) -> list[Event]:
    events = [
        Event(received_at=t, site="shop1", device="d", kind="occupancy", purpose="analytics", attributes={"n": i})
        for i, t in enumerate(received_at)
    ]
    db = connect(db_path)
    write_ingest_batch(db, IngestBatch(events=events, outbox=events))
    db.conn.close()
    return events


def test_budget_drops_oldest_first_and_counts(tmp_path: Path) -> None:
    now = time.time()
    events = queue(tmp_path / "g.db", [now] * 100)
    db = connect(tmp_path / "g.db")
    size = outbox_stats(db).bytes // 100
    dropped = enforce_limits(db, max_bytes=size * 30 + size // 2, ttl_s=3600, now=now)
    assert dropped.budget == 70 and dropped.ttl == 0
    left = [item.event_id for item in fetch_batch(db, 1000, 10**9, now)]
    assert left == [e.id for e in events[70:]]  # the newest 30, in order
    assert outbox_stats(db).bytes <= size * 30 + size // 2
    counters = read_counters(db)
    assert counters["dropped_budget"] == 70 and counters["dropped_budget_bytes"] == dropped.budget_bytes > 0
    # Within budget: nothing more goes.
    assert enforce_limits(db, max_bytes=size * 30 + size // 2, ttl_s=3600, now=now).total == 0


def test_ttl_drops_what_waited_too_long(tmp_path: Path) -> None:
    now = time.time()
    events = queue(tmp_path / "g.db", [now - 7200] * 5 + [now - 10] * 3)
    db = connect(tmp_path / "g.db")
    dropped = enforce_limits(db, max_bytes=10**9, ttl_s=3600, now=now)
    assert (dropped.ttl, dropped.budget) == (5, 0)
    assert [i.event_id for i in fetch_batch(db, 100, 10**9, now)] == [e.id for e in events[5:]]
    assert read_counters(db)["dropped_ttl"] == 5


async def test_service_down_budget_bounded_then_rest_delivered(
    broker: Mosquitto, central: Central, proxy: FaultyProxy, tmp_path: Path
) -> None:
    budget = 20_000
    settings = gateway_settings(broker, tmp_path, sync=sync_config(proxy.url, outbox_max_bytes=budget))
    db = settings.store.path
    await proxy.set_fault(Fault.DOWN)
    async with running_gateway(settings) as runtime:
        for wave in range(2):
            await asyncio.to_thread(publish, broker.host, broker.port, shop_traffic(200, 0, 0))
            await wait_until(lambda: runtime.ingest.counters.stored >= 200 * (wave + 1), timeout=20)
            await wait_until(lambda: outbox_bytes(db) <= budget, timeout=10)
        # Every event is either queued or counted as dropped: waited for, not slept on.
        await wait_until(lambda: dropped_for_budget(db) + outbox_count(db) == 400, timeout=10)
        remaining = outbox_count(db)
        assert remaining < 400 and outbox_bytes(db) <= budget
        # The newest survived: the queued ids are the highest (UUIDv7: time-ordered) of all events.
        newest = [r[0] for r in local_rows(db, f"SELECT id FROM events ORDER BY id DESC LIMIT {remaining}")]
        assert {r[0] for r in local_rows(db, "SELECT event_id FROM outbox")} == set(newest)
        # The sender keeps trying while the service is down: it is "sending" during an attempt
        # and "backoff" after it (this once failed when read in the middle of an attempt).
        sender = sync_parts(runtime).sender
        await wait_until(lambda: sender.status.state == "backoff", timeout=10)
        assert sender.status.last_error and not central.event_ids()
        await proxy.set_fault(Fault.NONE)
        await wait_until(lambda: outbox_count(db) == 0, timeout=20)
    assert set(central.event_ids()) == set(newest)


def dropped_for_budget(db: Path) -> int:
    rows = local_rows(db, "SELECT value FROM state WHERE key = 'sync.count.dropped_budget'")
    return int(rows[0][0]) if rows else 0


def outbox_bytes(db: Path) -> int:
    return int(local_rows(db, "SELECT COALESCE(SUM(bytes), 0) FROM outbox")[0][0])
