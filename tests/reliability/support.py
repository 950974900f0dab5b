"""Helpers of the reliability tests: is the in-process gateway still whole, settle, RSS, SQLite checks."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import psutil

from gateway.app import Gateway
from tests.support.clients import Publisher
from tests.support.fuzz import FuzzMessage
from tests.support.gateway import wait_until

GATEWAY_TASKS = ("mqtt", "ingest")


def gateway_tasks() -> list[asyncio.Task[object]]:
    """The serve() TaskGroup's tasks (mqtt, ingest, part-N): if one ends, the gateway has failed."""
    return [t for t in asyncio.all_tasks() if t.get_name() in GATEWAY_TASKS or t.get_name().startswith("part-")]


def assert_alive(runtime: Gateway) -> None:
    tasks = gateway_tasks()
    assert {t.get_name() for t in tasks} >= set(GATEWAY_TASKS), [t.get_name() for t in tasks]
    ended = [(t.get_name(), t.exception() if not t.cancelled() else "cancelled") for t in tasks if t.done()]
    assert not ended, f"gateway tasks ended: {ended}"
    assert runtime.mqtt.connected


def rss_mb(pid: int | None = None) -> float:
    return float(psutil.Process(pid).memory_info().rss) / 2**20


def publish_fuzz(host: str, port: int, messages: Iterable[FuzzMessage], client_id: str) -> int:
    """Publish every message (QoS as its surface takes it), waiting for each PUBACK in windows."""
    sent = 0
    with Publisher(host, port, client_id=client_id) as pub:
        infos = []
        for message in messages:
            infos.append(pub.publish(message.topic, message.payload, qos=message.qos))
            sent += 1
            if len(infos) >= 200:
                for info in infos:
                    info.wait_for_publish(60)
                infos.clear()
        for info in infos:
            info.wait_for_publish(60)
    return sent


async def settled(runtime: Gateway, received: int, timeout: float = 60) -> None:
    """Until ingest has taken `received` sensor messages and settled everything it took."""
    counters = runtime.ingest.counters
    await wait_until(lambda: counters.received >= received and counters.in_flight() == 0, timeout=timeout)


def scalar(db_path: Path, sql: str) -> object:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def integrity(db_path: Path) -> str:
    return str(scalar(db_path, "PRAGMA integrity_check"))
