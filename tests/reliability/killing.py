"""SIGKILLs of the gateway process at random moments under steady load while the central service
fails in every way the sync tests know (their faulty proxy, switched from fault to fault).
Shared by `test_kill_under_faults.py` (4 kills) and `bench/reliability.py` (20)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from pathlib import Path

from tests.reliability.load import SteadyPublisher, Tally, central_numbers, quarantined_numbers, stored_numbers, tally
from tests.support.mosquitto import Mosquitto
from tests.support.procs import GatewayProcess, write_config
from tests.sync.conftest import Central, sync_config
from tests.sync.faulty_proxy import Fault, FaultyProxy
from tests.sync.shop import expected_central_ids, outbox_count, publish, shop_traffic, unconsented_local_ids

# Every fault of the sync issue; NONE between them lets batches through, so kills land mid-send too.
FAULT_CYCLE = (
    Fault.ERROR_500, Fault.TOO_MANY, Fault.SLOW, Fault.RESET_AFTER_COMMIT,
    Fault.RESET_MID_REQUEST, Fault.PARTIAL, Fault.DOWN, Fault.NONE,
)


@dataclass
class KillResult:
    kills: int
    quarantined: int  # acked messages dead-lettered `poison` (at most one per kill), not in the tallies
    local: Tally
    central: Tally
    central_ids_unique: bool
    central_matches_local: bool  # central holds exactly what the local store says may leave
    unconsented_leaked: int
    fault_hits: dict[str, int]


async def wait_for(predicate: object, timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.1)


async def kill_run(
    broker: Mosquitto, central: Central, proxy: FaultyProxy, workdir: Path, kills: int, rate: float = 300, seed: int = 9
) -> KillResult:
    db = workdir / "gateway.db"
    config = write_config(
        workdir / "gateway.yaml", broker, db, sync=sync_config(proxy.url, request_timeout_s=1.0, batch_max_events=100)
    )
    proxy.retry_after = 1
    proxy.delay_s = 2.0
    gateway = GatewayProcess(config)
    rng = random.Random(seed)
    await asyncio.to_thread(gateway.start)
    load = SteadyPublisher(broker.host, broker.port, rate=rate).start()
    done = 0
    try:
        await asyncio.to_thread(publish, broker.host, broker.port, shop_traffic(60, 20, 10))
        step = 0
        while done < kills:
            await proxy.set_fault(FAULT_CYCLE[step % len(FAULT_CYCLE)])
            await asyncio.sleep(rng.uniform(0.3, 1.0))
            if step % 2 == 1:
                await asyncio.to_thread(gateway.kill)  # a random moment within this fault
                done += 1
                await asyncio.to_thread(gateway.start)
            step += 1
        await asyncio.to_thread(load.stop)
        await proxy.set_fault(Fault.NONE)
        # Each acked message stored, or set aside as poison: a kill that lands while a redelivered
        # message is worked on alone (right after a restart) is its first strike, and a second
        # such kill quarantines it (gateway/quarantine.py). Kept whole in the dead letters: not lost.
        await wait_for(lambda: set(stored_numbers(db)) | set(quarantined_numbers(db)) >= load.acked, timeout=120)
        await wait_for(lambda: outbox_count(db) == 0, timeout=120)
    finally:
        await asyncio.to_thread(load.stop)
        await asyncio.to_thread(gateway.stop)
    ids = central.event_ids()
    quarantined = quarantined_numbers(db)
    expected = load.acked - set(quarantined)
    return KillResult(
        kills=done,
        quarantined=len(quarantined),
        local=tally(expected, stored_numbers(db)),
        central=tally(expected, central_numbers(central.db_path)),
        central_ids_unique=len(ids) == len(set(ids)),
        central_matches_local=set(ids) == expected_central_ids(db),
        unconsented_leaked=len(set(ids) & unconsented_local_ids(db)),
        fault_hits=dict(proxy.hits),
    )
