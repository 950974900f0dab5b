"""In-store analytics on a simulated shop day (gateway/analytics/simulator.py): thousands of
visitors, people counters that miss a few, motion sensors, phones whose BLE MAC rotates every
15 minutes, tills. The day is replayed through the pure core with the real SQLite writes (a flush
every simulated minute), then the k-anonymous release into the outbox, as the live part does.

Prints events_per_s (core + store), occupancy_error (mean absolute error of the shop's counted
occupancy against the simulator's truth, per minute while open), queue_error, dwell_error_s
(mean absolute error of the hourly mean BLE dwell against the true dwell of phone carriers),
identifiers_leaving (clear MACs, anonymous ids or customer ids found in anything queued for sync,
aggregates and the BLE sightings alike; must be 0), ingest_beacon_events_synced_with_mac (the
day's sightings published as OpenMQTTGateway does, through the gateway's identifier guard,
normaliser and consent gate: how many would leave with a customer's MAC; must be 0), min_group_size (the smallest population in a synced aggregate; >= k), the machine
and its pure-Python loop time. Usage: python bench/analytics.py [--visitors 3000] [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from _common import emit, loop_time_s, machine, median

from gateway.analytics.anonymous import DailyHasher, OwnBeacons
from gateway.analytics.core import MINUTE, AnalyticsCore, CoreConfig
from gateway.analytics.release import plan_release
from gateway.analytics.service import aggregate_events, day_of_hour
from gateway.analytics.settings import ZoneRole
from gateway.analytics.simulator import RECEIVERS, ROLES, STAFF_BEACON_UUID, ZONES, DayPlan, Truth, simulate_day
from gateway.model.zone_tally import ALL_GROUPS
from gateway.anonymous_id import normalise_identifier
from gateway.config.settings import PROJECT_ROOT
from gateway.devices.identifiers import DailyAnonymiser, DeviceIdentifiers, OwnBeacon
from gateway.devices.normalise import Normaliser
from gateway.devices.registry import load_profiles
from gateway.model.event import Event
from gateway.model.gate import ON_SITE_PURPOSE, NoConsents, StrictGate
from gateway.model.inbound import InboundMessage
from gateway.store.ingest_rows import outbox_body
from gateway.rules.index import Zones
from gateway.store.analytics_rows import load_hours, load_series, release_aggregates, unsettled_hours, write_figures
from gateway.store.database import connect

DAY_START = dt.datetime(2026, 12, 3, tzinfo=dt.UTC).timestamp()
STAFF_BEACON_MAC = "C0:FF:EE:00:00:01"  # the simulator's staff beacon: the shop's own, allow-listed
_MAC = re.compile(r"(?i)(?<![0-9a-f])[0-9a-f]{2}(?:[:-]?[0-9a-f]{2}){5}(?![0-9a-f])")
_HEX24 = re.compile(r"[0-9a-f]{24}")
K = 5


def run_once(visitors: int, folder: Path) -> dict[str, float]:
    plan = DayPlan(visitors=visitors)
    events, truth = simulate_day(DAY_START, plan)
    db = connect(folder / "analytics.db")
    config = CoreConfig(k=K, motion_timeout_s=plan.motion_hold_s, ble_report_interval_s=plan.ble_interval_s, timezone="UTC")
    core = AnalyticsCore(
        Zones(ZONES).of, {z: ZoneRole(r) for z, r in ROLES.items()}, DailyHasher(b"bench-secret-key-of-the-shop-19"),
        config, OwnBeacons([STAFF_BEACON_UUID]), start=DAY_START,
    )
    started = time.perf_counter()
    next_flush = DAY_START + MINUTE
    for event in events:
        if event.received_at >= next_flush:
            core.advance(next_flush)
            _flush(core, db)
            next_flush += MINUTE
        core.observe(event)
    end = DAY_START + 86400 + 3600
    core.advance(end)
    _flush(core, db)
    elapsed = time.perf_counter() - started
    # The release, a day later: hours first, then the day's small groups merged or suppressed.
    now = end + 3600
    tallies = unsettled_hours(db, DAY_START - 86400, sum(int(g) for g in ALL_GROUPS))
    release = plan_release(tallies, K, now, 300.0, day_of_hour("UTC"))
    release_aggregates(db, release.settled, aggregate_events(release, "shop1", K, now))
    bodies = [str(row[0]) for row in db.conn.execute("SELECT body FROM outbox")]
    leaking = _identifiers_leaving(bodies, truth, events, core)
    groups = [min(a.populations.values()) for a in release.aggregates]
    series = load_series(db, DAY_START)
    hours = load_hours(db, DAY_START)
    ingest = _ingest_beacons(events, truth)
    leaking += ingest.pop("identifiers_leaving")
    db.conn.close()
    return {
        "events": len(events),
        "visitors": truth.visitors,
        "events_per_s": len(events) / elapsed,
        "occupancy_error": _occupancy_error(series, truth, "entrance", plan),
        "queue_error": _occupancy_error(series, truth, "checkout", plan),
        "dwell_error_s": _dwell_error(hours, truth),
        "dwell_bias_s": _dwell_error(hours, truth, signed=True),
        "occupancy_mean_truth": _mean_truth(truth, "entrance", plan),
        "queue_mean_truth": _mean_truth(truth, "checkout", plan),
        "identifiers_leaving": leaking,
        "min_group_size": min(groups) if groups else 0,
        "aggregates_synced": len(release.aggregates),
        "suppressed": sum(release.suppressed.values()),
        "macs_in_day": len(truth.macs),
        **ingest,
        "drift_resets": sum(z.drift_resets for z in core.zones.values()),
    }


def _ingest_beacons(events: list, truth: Truth) -> dict[str, int]:  # type: ignore[type-arg]
    """The day's BLE sightings as OpenMQTTGateway publishes them (MAC in the topic and the
    payload), through the real door of the gateway: the identifier guard, the normaliser (the
    project's profiles, the staff beacon on the allow-list) and the consent gate. Counts what
    would be queued for sync, and customers' MACs (any spelling) or their anonymous ids in it."""
    profiles, problems = load_profiles(PROJECT_ROOT / "device_profiles")
    assert not problems, problems
    anonymiser = DailyAnonymiser("UTC", secret=b"bench-device-secret-of-the-shop")
    own = [OwnBeacon(name="staff", mac=STAFF_BEACON_MAC)]
    normaliser = Normaliser(profiles, "shop1", 256 * 1024, 4096, identifiers=DeviceIdentifiers(profiles, own, anonymiser))
    gate = StrictGate(NoConsents())
    customer_macs = {normalise_identifier(mac) for mac in truth.macs}
    anonymous = {anonymiser(mac, DAY_START + 43200)[len("anon:"):] for mac in truth.macs}
    counts = {"ingest_beacon_events": 0, "ingest_beacon_events_synced": 0, "ingest_beacon_events_synced_with_mac": 0,
              "ingest_beacon_events_kept_on_site": 0, "identifiers_leaving": 0}
    for index, event in enumerate(e for e in events if e.kind == "beacon"):
        mac = str(event.attributes["mac"])
        payload = {"id": mac, "rssi": event.attributes["rssi"]}
        if "uuid" in event.attributes:
            payload["uuid"] = str(event.attributes["uuid"]).replace("-", "")
        topic = f"home/{event.site}/BTtoMQTT/{mac.replace(':', '')}"
        message = InboundMessage(topic, json.dumps(payload).encode(), 1, index % 65535 + 1, event.received_at)
        result = normaliser.normalise(normaliser.admit(message))
        counts["ingest_beacon_events"] += 1
        if not isinstance(result, Event):
            continue
        if result.purpose == ON_SITE_PURPOSE:
            counts["ingest_beacon_events_kept_on_site"] += 1
        if not gate.decide(result).sync:
            continue
        counts["ingest_beacon_events_synced"] += 1
        body = outbox_body(result)
        clear = sum(1 for m in _MAC.finditer(body) if normalise_identifier(m.group()) in customer_macs)
        hashed = sum(1 for m in _HEX24.finditer(body) if m.group() in anonymous)
        counts["ingest_beacon_events_synced_with_mac"] += bool(clear)
        counts["identifiers_leaving"] += clear + hashed
    return counts


def _flush(core: AnalyticsCore, db: object) -> None:
    closed = core.take_closed()
    write_figures(db, closed + core.open_tallies(), core.take_series(), 0.0, 0.0)  # type: ignore[arg-type]


def _occupancy_error(series: list, truth: Truth, zone: str, plan: DayPlan) -> float:  # type: ignore[type-arg]
    opens, closes = DAY_START + plan.opens_h * 3600, DAY_START + plan.closes_h * 3600
    errors = [
        abs(point.occupancy - truth.occupancy.get((zone, point.minute), 0))
        for point in series if point.zone == zone and opens <= point.minute < closes
    ]
    return sum(errors) / len(errors) if errors else float("nan")


def _mean_truth(truth: Truth, zone: str, plan: DayPlan) -> float:
    opens, closes = DAY_START + plan.opens_h * 3600, DAY_START + plan.closes_h * 3600
    values = [v for (z, minute), v in truth.occupancy.items() if z == zone and opens <= minute < closes]
    return sum(values) / len(values)


def _dwell_error(hours: list, truth: Truth, signed: bool = False) -> float:  # type: ignore[type-arg]
    """Mean (absolute, or signed: measured - true) error of each zone-hour's mean BLE dwell."""
    errors = []
    for tally in hours:
        true = truth.dwell.get((tally.zone, tally.hour))
        if tally.zone not in RECEIVERS or not true or not tally.device_visits:
            continue
        error = tally.device_dwell_sum_s / tally.device_visits - sum(true) / len(true)
        errors.append(error if signed else abs(error))
    return sum(errors) / len(errors) if errors else float("nan")


def _identifiers_leaving(bodies: list[str], truth: Truth, events: list, core: AnalyticsCore) -> int:  # type: ignore[type-arg]
    """Every MAC of the day in each spelling, and the anonymous ids, searched in every body."""
    needles = set()
    for mac in truth.macs | {"C0:FF:EE:00:00:01"}:
        plain = mac.replace(":", "")
        needles.update({mac, mac.lower(), plain, plain.lower()})
    hasher = DailyHasher(b"bench-secret-key-of-the-shop-19")
    day = dt.datetime.fromtimestamp(DAY_START, dt.UTC).date().isoformat()
    needles.update(hasher.anonymous_id(mac, day).hex() for mac in truth.macs)
    return sum(1 for body in bodies for needle in needles if needle in body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="bench-analytics-") as tmp:
            result = run_once(args.visitors, Path(tmp))
        results.append(result)
        print(f"run {run + 1}: " + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()), file=sys.stderr)
    summary = {key: (round(median([float(r[key]) for r in results]), 3)) for key in results[0]}
    emit({
        "benchmark": "analytics",
        "runs": args.runs,
        "k": K,
        **summary,
        "identifiers_leaving": max(int(r["identifiers_leaving"]) for r in results),
        "min_group_size": min(int(r["min_group_size"]) for r in results),
        "loop_time_s": loop_time_s(),
        "machine": machine(),
    })


if __name__ == "__main__":
    main()
