"""What only the PostgreSQL storage has: versioned migrations shared by workers starting together,
day partitions (strays in the default partition moved when their day gets one; retention
dropping whole partitions), and several workers on one port, one SIGKILLed mid-drain."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg

from gateway.model.event import Event
from gateway.model.gate import NoConsents
from gateway.store import Store
from gateway.store.database import connect
from gateway.store.ingest_rows import IngestBatch, write_ingest_batch
from gateway.sync.sender import DrainEnd, OutboxSender
from gateway.sync.settings import SyncSettings
from gateway.sync.transport import Transport
from profile_service.launch import ProfileServiceProcess, service_command
from profile_service.models import EventIn
from profile_service.pg.migrations import MIGRATIONS
from profile_service.pg.partitions import DAY_S, day_of, partition_name
from profile_service.pg.store import PostgresStore
from profile_service.settings import ServiceSettings
from tests.support.mosquitto import free_port
from tests.support.postgres import query
from tests.sync.conftest import SITE, SITE_TOKEN


def event(event_id: str, received_at: float) -> EventIn:
    return EventIn(id=event_id, received_at=received_at, site=SITE, device="d", kind="occupancy", purpose="analytics")


def partition_of(url: str, event_id: str) -> str:
    return str(query(url, "SELECT tableoid::regclass::text FROM events WHERE id = ?", (event_id,))[0][0])


async def test_workers_starting_together_migrate_once(postgres_url: str) -> None:
    settings = ServiceSettings(database_url=postgres_url)
    stores = await asyncio.gather(*(PostgresStore.open(settings) for _ in range(3)))
    for store in stores:
        await store.close()
    assert query(postgres_url, "SELECT version FROM schema_migrations ORDER BY version") == [(1,), (2,)]


async def test_partitions_by_day_strays_moved_and_retention_drops_whole_days(postgres_url: str) -> None:
    now = time.time()
    store = await PostgresStore.open(ServiceSettings(database_url=postgres_url, event_retention_days=7))
    try:
        accepted, rejected = await store.store_events(
            SITE, [event("today", now), event("old", now - 3 * DAY_S), event("late", now - 9 * DAY_S),
                   event("future", now + 10 * DAY_S)], False, 0,
        )
        assert accepted == ["today", "old", "future"] and [(r.id, r.reason) for r in rejected] == [("late", "past_retention")]
        assert partition_of(postgres_url, "today") == partition_name(day_of(now))
        assert partition_of(postgres_url, "old") == partition_name(day_of(now - 3 * DAY_S))
        assert partition_of(postgres_url, "future") == "events_default"  # outside the window: no table of its own
        # Nine days on: "future" gets its partition (moved out of the default), "old" is past retention.
        dropped = await store.maintain(now + 9 * DAY_S)
        assert partition_name(day_of(now - 3 * DAY_S)) in dropped and partition_name(day_of(now)) in dropped
        assert partition_of(postgres_url, "future") == partition_name(day_of(now + 10 * DAY_S))
        assert [r[0] for r in query(postgres_url, "SELECT id FROM events ORDER BY id")] == ["future"]
    finally:
        await store.close()


def fill_outbox(path: Path, count: int) -> set[str]:
    db = connect(path)
    events = [Event(received_at=time.time(), site=SITE, device="motion", kind="occupancy", purpose="analytics",
                    attributes={"n": i}) for i in range(count)]
    write_ingest_batch(db, IngestBatch(outbox=events))
    db.conn.close()
    return {e.id for e in events}


async def test_two_workers_on_one_port_one_killed_mid_drain_lose_and_duplicate_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    queued = fill_outbox(tmp_path / "gateway.db", 3000)
    port = free_port()
    command = service_command(port, tmp_path / "unused.db", {SITE: SITE_TOKEN}, database_url=postgres_url,
                              extra=["--reuse-port"])
    workers = [ProfileServiceProcess(command), ProfileServiceProcess(command)]
    for worker in workers:
        worker.start()
    settings = SyncSettings(url=f"http://127.0.0.1:{port}", token=SITE_TOKEN, batch_max_events=50,
                            backoff_initial_s=0.05, backoff_max_s=0.3, limits_interval_s=60)
    store = await Store.open(tmp_path / "gateway.db")
    try:
        async with Transport(settings) as transport:
            sender = OutboxSender(store, transport, settings, NoConsents(), raw_cap=4096)
            drain = asyncio.create_task(sender.drain(time.time() + 120))
            while not query(postgres_url, "SELECT COUNT(*) FROM events")[0][0]:
                await asyncio.sleep(0.02)
            victim = workers[0].proc
            assert victim is not None
            victim.kill()  # SIGKILL with batches streaming in: one may be cut off mid-transaction
            assert await drain is DrainEnd.EMPTY
    finally:
        await store.close()
        for worker in workers:
            worker.stop()
    rows = query(postgres_url, "SELECT id FROM events")
    assert len(rows) == len({r[0] for r in rows}) == len(queued) and {r[0] for r in rows} == queued


async def test_migration_2_keeps_old_rows_and_records_who_has_seen_whom(postgres_url: str) -> None:
    """A database at version 1 with an event and an erasure: version 2 marks the erasure as
    applied and records the sending site as having seen the event's customer."""
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("CREATE TABLE schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        await conn.execute(MIGRATIONS[0])
        await conn.execute("INSERT INTO schema_migrations (version) VALUES (1)")
        await conn.execute("INSERT INTO events VALUES ('shop1', 'a', to_timestamp(1), 'shop1', 'card:1', 'service', 'identify', '{}', to_timestamp(5))")
        await conn.execute("INSERT INTO erasures VALUES ('shop2', 'e', 'card:2', 1.0, 2.0)")
    finally:
        await conn.close()
    store = await PostgresStore.open(ServiceSettings(database_url=postgres_url))
    await store.close()
    assert query(postgres_url, "SELECT version FROM schema_migrations ORDER BY version") == [(1,), (2,)]
    assert query(postgres_url, "SELECT customer_id, gateway_site, first_seen FROM customer_sites") == [("card:1", "shop1", 5.0)]
    assert query(postgres_url, "SELECT gateway_site, id, outcome FROM erasures") == [("shop2", "e", "erased")]
