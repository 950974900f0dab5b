"""The k-anonymous aggregates reach the real central profile service through the outbox, as
their own event kinds with purpose analytics; small groups never do."""

from __future__ import annotations

import json
import time
from pathlib import Path

from gateway.model.zone_tally import ALL_GROUPS, HourTally
from gateway.store.analytics_rows import load_hours, write_figures
from gateway.store.database import connect
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto
from tests.sync.conftest import Central, central, sync_config  # noqa: F401 - the fixture

HOUR = 3600


async def test_only_k_anonymous_aggregates_reach_the_central_service(broker: Mosquitto, central: Central, tmp_path: Path) -> None:  # noqa: F811
    settings = gateway_settings(broker, tmp_path, sync=sync_config(central.url), analytics={"k": 5, "timezone": "UTC"})
    day = int(time.time() // 86400 * 86400) - 2 * 86400  # two days ago: hours and day closed
    rows = [
        HourTally("entrance", day + 10 * HOUR, footfall_in=12, footfall_out=11, occupancy_integral=9000.0, occupancy_max=6, devices=7, device_visits=8, device_dwell_sum_s=800.0),
        HourTally("entrance", day + 11 * HOUR, footfall_in=3, footfall_out=3, devices=2, device_visits=2, device_dwell_sum_s=100.0),
        HourTally("entrance", day + 12 * HOUR, footfall_in=2, footfall_out=2),
        HourTally("checkout", day + 11 * HOUR, tills=1, exits=1, occupancy_integral=60.0),
    ]
    db = connect(settings.store.path)
    write_figures(db, rows, [], 0, 0)
    db.conn.close()
    async with running_gateway(settings) as runtime:
        analytics = runtime.service("analytics")
        assert analytics is not None
        release = await analytics.release()
        await wait_until(lambda: len(central.query("SELECT id FROM events WHERE kind LIKE 'analytics.%'")) == len(release.aggregates), timeout=15)
    received = [json.loads(body) for (body,) in central.query("SELECT body FROM events WHERE kind LIKE 'analytics.%'")]
    by_level = {e["kind"]: e for e in received}
    hour = by_level["analytics.hour"]
    assert hour["purpose"] == "analytics" and hour.get("customer_id") is None
    assert hour["attributes"]["zone"] == "entrance" and hour["attributes"]["footfall_in"] == 12 and hour["attributes"]["devices"] == 7
    merged = by_level["analytics.zone_day"]["attributes"]  # the entrance's 3 + 2 people of 11:00 and 12:00
    assert merged["footfall_in"] == 5 and merged["hours"] == 2 and "devices" not in merged
    for event in received:
        assert event["attributes"]["group_min"] >= 5
        for population in ("footfall_in", "visits", "devices", "exits", "tills"):
            assert event["attributes"].get(population, 5) >= 5
    assert len(received) == 2 and release.suppressed == {"devices": 2, "wait": 1, "tills": 1}
    db = connect(settings.store.path)
    assert all(t.settled == sum(ALL_GROUPS) for t in load_hours(db, day))
    db.conn.close()
