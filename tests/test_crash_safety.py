"""Durability: SIGKILL during load and broker restarts lose nothing and duplicate nothing."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import threading
import time
from pathlib import Path

from tests.support.clients import Publisher
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto
from tests.support.procs import GatewayProcess, wait_for, write_config

TOPIC = "milesight/shop1/counter-1/uplink"


def numbered(n: int) -> bytes:
    return json.dumps({"line_1_period_in": 1, "line_1_period_out": 0, "line_1_total_in": n}).encode()


def stored_numbers(db_path: Path) -> list[int]:
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT attributes FROM events WHERE device = 'counter-1'").fetchall()
    return [json.loads(a)["total_in"] for (a,) in rows]


def quarantined_numbers(db_path: Path) -> list[int]:
    """Messages dead-lettered `poison`: in flight, alone, at two kills in a row (gateway/quarantine.py).
    They are kept whole in the dead letters, so they are not lost, only set aside."""
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT raw FROM dead_letters WHERE reason = 'poison' AND topic = ?", (TOPIC,)).fetchall()
    return [json.loads(raw)["line_1_total_in"] for (raw,) in rows]


def test_sigkill_under_load_loses_nothing_and_duplicates_nothing(broker: Mosquitto, tmp_path: Path) -> None:
    db_path = tmp_path / "gw.db"
    gateway = GatewayProcess(write_config(tmp_path / "config.yaml", broker, db_path))
    gateway.start()
    total = 6000
    published = threading.Event()
    # The publisher waits for a kill after each of its first thousands, so kills land mid-stream
    # however slow the machine is (a restart on a loaded 2-core machine can outlast the stream).
    killed = threading.Semaphore(0)

    def publish() -> None:
        with Publisher(broker.host, broker.port, client_id="crash-publisher") as pub:
            infos = []
            for n in range(total):
                infos.append(pub.publish(TOPIC, numbered(n)))
                if n % 100 == 99:
                    infos[-1].wait_for_publish(30)
                    time.sleep(0.1)  # ~1k/s for ~6 s: kills land mid-stream, not after it
                if n in (999, 1999, 2999):
                    killed.acquire(timeout=120)
            for info in infos:
                info.wait_for_publish(30)
        published.set()

    publisher = threading.Thread(target=publish)
    publisher.start()
    rng = random.Random(7)
    kills = 0
    try:
        while not published.is_set() and kills < 5:
            time.sleep(rng.uniform(0.1, 0.4))
            gateway.kill()
            kills += 1
            gateway.start()
            killed.release()
        publisher.join(60)
        assert published.is_set(), "publisher did not finish"
        wait_for(lambda: len(stored_numbers(db_path)) + len(quarantined_numbers(db_path)) >= total, timeout=120)
    finally:
        gateway.kill()
    numbers = stored_numbers(db_path)
    quarantined = quarantined_numbers(db_path)
    assert kills >= 3
    # Only a message being worked on alone at a kill can be blamed: at most one per kill.
    assert len(quarantined) <= kills, f"{len(quarantined)} quarantined after {kills} kills"
    numbers += quarantined
    assert sorted(numbers) == list(range(total)), (
        f"lost {sorted(set(range(total)) - set(numbers))[:10]}, duplicated {len(numbers) - len(set(numbers))}"
    )


async def test_broker_restart_loses_nothing(broker: Mosquitto, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path)
    async with running_gateway(settings) as runtime:
        with Publisher(broker.host, broker.port, client_id="before") as pub:
            await asyncio.to_thread(pub.publish_all, [(TOPIC, numbered(n)) for n in range(100)])
        await wait_until(lambda: runtime.ingest.counters.stored >= 100)
        await asyncio.to_thread(broker.restart)
        # While the gateway reconnects, the broker queues for its persistent session.
        with Publisher(broker.host, broker.port, client_id="after") as pub:
            await asyncio.to_thread(pub.publish_all, [(TOPIC, numbered(n)) for n in range(100, 300)])
        await wait_until(lambda: runtime.ingest.counters.stored >= 300, timeout=30)
        assert runtime.mqtt.connected
    assert sorted(stored_numbers(settings.store.path)) == list(range(300))
