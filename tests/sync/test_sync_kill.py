"""SIGKILL of the gateway while a batch is in flight (the service has stored it, the gateway has
not yet deleted it): after a restart every event reaches the central store exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.mosquitto import Mosquitto
from tests.support.procs import GatewayProcess, write_config
from tests.sync.conftest import Central, sync_config
from tests.sync.faulty_proxy import Fault, FaultyProxy
from tests.sync.shop import expected_central_ids, outbox_count, publish, shop_traffic, unconsented_local_ids


async def wait_for(predicate: object, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_sigkill_during_sync_loses_and_doubles_nothing(
    broker: Mosquitto, central: Central, proxy: FaultyProxy, tmp_path: Path
) -> None:
    db = tmp_path / "gateway.db"
    config = write_config(
        tmp_path / "gateway.yaml", broker, db,
        sync=sync_config(proxy.url, request_timeout_s=30.0, batch_max_events=100),
    )
    proxy.delay_s = 30.0  # the service answers, the gateway never hears it before the kill
    await proxy.set_fault(Fault.SLOW)
    gateway = GatewayProcess(config)
    await asyncio.to_thread(gateway.start)
    try:
        await asyncio.to_thread(publish, broker.host, broker.port, shop_traffic(300, 0, 20))
        # A batch was forwarded and committed by the service, its answer is held by the proxy.
        await wait_for(lambda: proxy.hits["slow"] >= 1 and len(central.event_ids()) >= 1)
        await asyncio.sleep(0.2)
        await asyncio.to_thread(gateway.kill)
        stored_before_kill = len(central.event_ids())
        assert 0 < stored_before_kill < 300
        assert outbox_count(db) == 300  # nothing was deleted: no answer arrived
        await proxy.set_fault(Fault.NONE)
        await asyncio.to_thread(gateway.start)
        await wait_for(lambda: outbox_count(db) == 0)
    finally:
        await asyncio.to_thread(gateway.stop)
    ids = central.event_ids()
    assert len(ids) == len(set(ids)) == 300
    assert set(ids) == expected_central_ids(db)
    assert not set(ids) & unconsented_local_ids(db)
    assert central.stats()["events_redelivered"] >= stored_before_kill
