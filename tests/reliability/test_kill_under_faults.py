"""SIGKILL of the gateway at random moments under steady load, while the central service fails in
every way the sync tests know (the same faulty proxy, switched from fault to fault during the run).
Afterwards every message the broker accepted is in the local store once, and every event that may
leave is at the central service once.

The long version (20 kills) is `bench/reliability.py`.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from tests.reliability.load import SteadyPublisher, central_numbers, stored_numbers, tally
from tests.reliability.support import integrity
from tests.support.mosquitto import Mosquitto
from tests.support.procs import GatewayProcess, write_config
from tests.sync.conftest import Central, sync_config
from tests.sync.faulty_proxy import Fault, FaultyProxy
from tests.sync.shop import expected_central_ids, outbox_count, publish, shop_traffic, unconsented_local_ids

FAULT_CYCLE = [
    Fault.ERROR_500, Fault.TOO_MANY, Fault.SLOW, Fault.RESET_AFTER_COMMIT,
    Fault.RESET_MID_REQUEST, Fault.PARTIAL, Fault.DOWN, Fault.NONE,
]


async def wait_for(predicate: object, timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.1)


async def test_random_sigkills_while_central_fails_lose_and_double_nothing(
    broker: Mosquitto, central: Central, proxy: FaultyProxy, tmp_path: Path
) -> None:
    db = tmp_path / "gateway.db"
    config = write_config(
        tmp_path / "gateway.yaml", broker, db, sync=sync_config(proxy.url, request_timeout_s=1.0, batch_max_events=100)
    )
    proxy.retry_after = 1
    proxy.delay_s = 2.0
    gateway = GatewayProcess(config)
    rng = random.Random(9)
    await asyncio.to_thread(gateway.start)
    load = SteadyPublisher(broker.host, broker.port, rate=300).start()
    kills = 0
    try:
        await asyncio.to_thread(publish, broker.host, broker.port, shop_traffic(60, 20, 10))
        for index, fault in enumerate(FAULT_CYCLE):
            await proxy.set_fault(fault)
            await asyncio.sleep(rng.uniform(0.3, 1.0))
            if index % 2 == 1:
                await asyncio.to_thread(gateway.kill)  # at a random moment of this fault
                kills += 1
                await asyncio.to_thread(gateway.start)
        await asyncio.to_thread(load.stop)
        await proxy.set_fault(Fault.NONE)
        await wait_for(lambda: set(stored_numbers(db)) >= load.acked)
        await wait_for(lambda: outbox_count(db) == 0)
    finally:
        await asyncio.to_thread(load.stop)
        await asyncio.to_thread(gateway.stop)
    assert kills == 4
    assert len(load.acked) > 1000
    local = tally(load.acked, stored_numbers(db))
    at_central = tally(load.acked, central_numbers(central.db_path))
    assert local.lost == 0 and local.duplicates == 0, local
    assert at_central.lost == 0 and at_central.duplicates == 0, at_central
    ids = central.event_ids()
    assert len(ids) == len(set(ids))
    assert set(ids) == expected_central_ids(db)
    assert not set(ids) & unconsented_local_ids(db)
    assert sum(proxy.hits.values()) > 0, "no fault was hit"
    assert integrity(db) == "ok"
