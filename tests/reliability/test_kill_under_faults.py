"""SIGKILL of the gateway at random moments under steady load, while the central service fails in
every way the sync tests know. Afterwards every message the broker accepted is in the local store
once, and every event that may leave is at the central service once. The long version (20 kills)
is `bench/reliability.py`."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.killing import kill_run
from tests.reliability.support import integrity
from tests.support.mosquitto import Mosquitto
from tests.sync.conftest import Central
from tests.sync.faulty_proxy import FaultyProxy


async def test_random_sigkills_while_central_fails_lose_and_double_nothing(
    broker: Mosquitto, central: Central, proxy: FaultyProxy, tmp_path: Path
) -> None:
    result = await kill_run(broker, central, proxy, tmp_path, kills=4)
    assert result.kills == 4
    assert result.quarantined <= result.kills  # only a message worked on alone at a kill is blamed
    assert result.local.acked > 1000
    assert result.local.lost == 0 and result.local.duplicates == 0, result.local
    assert result.central.lost == 0 and result.central.duplicates == 0, result.central
    assert result.central_ids_unique and result.central_matches_local
    assert result.unconsented_leaked == 0
    assert sum(result.fault_hits.values()) > 0, "no fault was hit"
    assert integrity(tmp_path / "gateway.db") == "ok"
