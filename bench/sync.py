"""Benchmark: drain 100,000 queued events from the outbox into the reference profile service over
loopback (gzip, default batch settings, synchronous=FULL on both sides).

The service runs as its own process (as in production); the gateway side is the real sync sender
on a real SQLite outbox. Last line: JSON with drain_eps, duplicates and lost, and the machine.

    .venv/bin/python bench/sync.py [--events 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.model.event import Event  # noqa: E402
from gateway.model.gate import NoConsents  # noqa: E402
from gateway.store import Store  # noqa: E402
from gateway.store.database import connect  # noqa: E402
from gateway.store.ingest_rows import IngestBatch, write_ingest_batch  # noqa: E402
from gateway.store.outbox import outbox_stats  # noqa: E402
from gateway.sync.sender import OutboxSender  # noqa: E402
from gateway.sync.settings import SyncSettings  # noqa: E402
from gateway.sync.transport import Transport  # noqa: E402
from profile_service.launch import ProfileServiceProcess, service_command  # noqa: E402

TOKEN = "bench-token"


def fill_outbox(path: Path, count: int) -> list[str]:
    db = connect(path)
    ids: list[str] = []
    now = time.time()
    for start in range(0, count, 1000):
        events = [
            Event(
                received_at=now, site="shop1", device=f"zigbee2mqtt/shop1/motion-{i % 20}", kind="occupancy",
                purpose="analytics",
                attributes={"occupancy": i % 2 == 0, "illuminance": i % 1000, "battery": 90, "voltage": 3.01, "link_quality": 120},
            )
            for i in range(start, min(start + 1000, count))
        ]
        write_ingest_batch(db, IngestBatch(outbox=events))
        ids.extend(e.id for e in events)
    db.conn.close()
    return ids


async def drain(path: Path, url: str, count: int) -> float:
    settings = SyncSettings(url=url, token=TOKEN, linger_s=0.0, limits_interval_s=60.0)
    store = await Store.open(path)
    try:
        async with Transport(settings) as transport:
            sender = OutboxSender(store, transport, settings, NoConsents(), raw_cap=4096)
            started = time.perf_counter()
            task = asyncio.create_task(sender.run())
            while (await store.call(outbox_stats)).events > 0:
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - started
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        await store.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="touchgate-bench-sync-") as tmp:
        folder = Path(tmp)
        gateway_db, central_db = folder / "gateway.db", folder / "central.db"
        queued = fill_outbox(gateway_db, args.events)
        with ProfileServiceProcess(service_command(0, central_db, {"shop1": TOKEN})) as service:
            assert service.url is not None
            elapsed = asyncio.run(drain(gateway_db, service.url, args.events))
        conn = sqlite3.connect(central_db)
        central_ids = [r[0] for r in conn.execute("SELECT id FROM events")]
        redelivered = conn.execute("SELECT COALESCE(SUM(value), 0) FROM counters WHERE name = 'events_redelivered'").fetchone()[0]
        conn.close()
    stored = set(central_ids)
    result = {
        "bench": "sync",
        "events": args.events,
        "seconds": round(elapsed, 3),
        "drain_eps": round(args.events / elapsed),
        "duplicates": len(central_ids) - len(stored),
        "redelivered": int(redelivered),
        "lost": len(set(queued) - stored),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
