"""How fast the operator surface answers on a big store: /api/status, /metrics, a dead-letter page.

Fills a store with `--events` events (a quarter of them still in the outbox), `--devices` devices
and `--dead-letters` dead letters, starts the real gateway (real Mosquitto) with the API on, and
times sequential requests over loopback. Each status request reads the whole picture from SQLite
on the store's one thread, so this is also what a scraping Prometheus costs ingest.

    python bench/api.py --events 200000 --requests 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
import time
from pathlib import Path

import aiohttp

from _common import emit, machine, median, percentile

from gateway.model.ids import new_event_id
from gateway.store.database import connect
from tests.support.gateway import gateway_settings, running_gateway
from tests.support.mosquitto import Mosquitto, free_port

TOKEN = "bench-token-8e2c6a4f1d9b7e3c"


def fill(path: Path, events: int, devices: int, dead_letters: int) -> None:
    connect(path).conn.close()  # create and migrate
    conn = sqlite3.connect(path)
    now = time.time()
    rows, outbox = [], []
    for i in range(events):
        at = now - (events - i) * 0.01
        event_id = new_event_id(int(at * 1e9))
        device = f"dev-{i % devices}"
        attributes = json.dumps({"occupancy": i % 2 == 0})
        rows.append((event_id, at, None, "shop1", device, "occupancy", "analytics", None, "bench", "bench/topic", attributes))
        if i % 4 == 0:
            body = json.dumps({"id": event_id, "kind": "occupancy", "attributes": {"occupancy": True}})
            outbox.append((event_id, at, None, "analytics", body, len(body)))
    with conn:
        conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        conn.executemany(
            "INSERT INTO outbox (event_id, enqueued_at, customer_id, purpose, body, bytes) VALUES (?,?,?,?,?,?)", outbox
        )
        conn.executemany(
            "INSERT INTO devices VALUES (?,?,?,?,?)",
            [("shop1", f"dev-{d}", "bench", now - d, events // devices) for d in range(devices)],
        )
        conn.executemany(
            "INSERT INTO dead_letters (received_at, topic, reason, detail, raw, raw_size) VALUES (?,?,?,?,?,?)",
            [(now - i, "bench/topic", "invalid_json", "Expecting value", b"x" * 200, 200) for i in range(dead_letters)],
        )
    conn.close()


async def timed(session: aiohttp.ClientSession, url: str, count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.perf_counter()
        async with session.get(url) as response:
            await response.read()
            assert response.status == 200, (url, response.status)
        out.append(time.perf_counter() - started)
    return out


async def run(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="touchgate-bench-api-") as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        fill(workdir / "touchgate.db", args.events, args.devices, args.dead_letters)
        fill_s = time.perf_counter() - started
        with Mosquitto(workdir / "broker") as broker:
            port = free_port()
            settings = gateway_settings(
                broker, workdir, api={"enabled": True, "port": port, "token": TOKEN, "homeassistant": {"enabled": False}}
            )
            async with running_gateway(settings), aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {TOKEN}"}
            ) as session:
                base = f"http://127.0.0.1:{port}"
                await timed(session, base + "/api/status", 3)  # warm the page cache
                results: dict[str, object] = {}
                for name, path in (
                    ("status", "/api/status"),
                    ("metrics", "/metrics"),
                    ("dead_letters_page", "/api/dead-letters?limit=50&before=1000"),
                    ("page", "/"),
                ):
                    seconds = await timed(session, base + path, args.requests)
                    results[name] = {
                        "p50_ms": round(median(seconds) * 1000, 2),
                        "p99_ms": round(percentile(seconds, 99) * 1000, 2),
                    }
    return {
        "bench": "api",
        "events": args.events,
        "devices": args.devices,
        "dead_letters": args.dead_letters,
        "requests": args.requests,
        "fill_s": round(fill_s, 2),
        **results,
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--dead-letters", type=int, default=5_000)
    parser.add_argument("--requests", type=int, default=200)
    result = asyncio.run(run(parser.parse_args()))
    emit(result)


if __name__ == "__main__":
    main()
