"""Mosquitto restarted (twice) while a steady load flows: every message the broker accepted is
stored exactly once, and the gateway reconnects by itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.reliability.load import SteadyPublisher, stored_numbers, tally
from tests.reliability.support import assert_alive, integrity
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto


async def test_broker_restarts_under_load_lose_and_double_nothing(broker: Mosquitto, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path)
    db = settings.store.path
    async with running_gateway(settings) as runtime:
        load = SteadyPublisher(broker.host, broker.port, rate=400).start()
        try:
            for _ in range(2):
                await asyncio.sleep(1.5)
                stored_before = runtime.ingest.counters.stored
                await asyncio.to_thread(broker.restart)
                await asyncio.sleep(1.5)
                # Back in business without help: reconnected and storing again.
                await wait_until(lambda: runtime.mqtt.connected, timeout=15)
                await wait_until(lambda: runtime.ingest.counters.stored > stored_before + 100, timeout=15)
        finally:
            await asyncio.to_thread(load.stop)
        assert len(load.acked) > 1500
        await wait_until(lambda: set(stored_numbers(db)) >= load.acked, timeout=30)
        assert_alive(runtime)
    result = tally(load.acked, stored_numbers(db))
    assert result.lost == 0 and result.duplicates == 0, result
    assert integrity(db) == "ok"
