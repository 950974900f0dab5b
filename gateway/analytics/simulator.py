"""A simulated shop day for the benchmark, the tests and the demo: visitors walk through zones,
people counters count them (missing a few), motion sensors see them, phones advertise BLE with a
MAC that rotates, tills ring up sales. Pure and seeded; it also records the truth to compare with.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field

from gateway.model.event import Event

SITE = "shop1"
# The simulated shop's zones, in the rules' `zones:` form ("site/device" or "site" globs).
ZONES: dict[str, list[str]] = {
    "entrance": ["shop1/entrance-*"],
    "coffee_shelf": ["shop1/coffee-shelf*", "ble-coffee"],
    "fitting_rooms": ["shop1/fitting-room-*", "ble-fitting"],
    "checkout": ["shop1/checkout-*", "ble-checkout"],
}
ROLES = {"entrance": "entrance", "coffee_shelf": "aisle", "fitting_rooms": "fitting_room", "checkout": "checkout"}
RECEIVERS = {"coffee_shelf": "ble-coffee", "fitting_rooms": "ble-fitting", "checkout": "ble-checkout"}
STAFF_BEACON_UUID = "e2c56db5-dffb-48d2-b060-d0f5a71096e0"


@dataclass(frozen=True, slots=True)
class DayPlan:
    visitors: int = 3000
    opens_h: float = 8.0
    closes_h: float = 20.0
    phone_share: float = 0.6
    mac_rotation_s: float = 900.0
    ble_interval_s: float = 10.0
    ble_miss: float = 0.1
    counter_miss: float = 0.02
    counter_period_s: float = 60.0
    motion_hold_s: float = 60.0
    tills: int = 4
    service_mean_s: float = 35.0
    seed: int = 19


@dataclass(slots=True)
class Truth:
    # (zone, minute) → people in the zone at the end of that minute
    occupancy: dict[tuple[str, int], int] = field(default_factory=dict)
    # (zone, hour) → dwell seconds of the visits (of phone carriers) that ended in that hour
    dwell: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    macs: set[str] = field(default_factory=set)
    visitors: int = 0
    sales: int = 0


@dataclass(slots=True)
class _Visitor:
    phone: bool
    macs: list[tuple[float, str]] = field(default_factory=list)  # (from, mac)
    stays: list[tuple[str, float, float]] = field(default_factory=list)  # (zone, from, to)

    def mac_at(self, t: float) -> str:
        current = self.macs[0][1]
        for start, mac in self.macs:
            if start <= t:
                current = mac
        return current


def simulate_day(day_start: float, plan: DayPlan | None = None) -> tuple[list[Event], Truth]:
    """The day's events in time order, and the truth. `day_start` is local midnight (unix)."""
    plan = plan or DayPlan()
    rng = random.Random(plan.seed)
    truth = Truth()
    events: list[Event] = []
    intervals: dict[str, list[tuple[float, float]]] = {zone: [] for zone in ZONES}
    opens, closes = day_start + plan.opens_h * 3600, day_start + plan.closes_h * 3600
    till_free = [opens] * plan.tills
    heapq.heapify(till_free)
    arrivals = sorted(_arrival(rng, opens, closes) for _ in range(plan.visitors))
    crossings: list[tuple[float, str, str, int]] = []  # (t, zone, "in"/"out", 1)
    for arrive in arrivals:
        visitor = _Visitor(rng.random() < plan.phone_share)
        t = arrive
        crossings.append((t, "entrance", "in", 1))
        entered = t
        t += rng.uniform(20, 120)  # walking in, browsing
        if rng.random() < 0.4:
            stay = 10 + rng.expovariate(1 / 60)
            intervals["coffee_shelf"].append((t, t + stay))
            _record(visitor, "coffee_shelf", t, t + stay, truth)
            t += stay + rng.uniform(10, 60)
        if rng.random() < 0.2:
            stay = 60 + rng.expovariate(1 / 240)
            intervals["fitting_rooms"].append((t, t + stay))
            _record(visitor, "fitting_rooms", t, t + stay, truth)
            t += stay + rng.uniform(10, 60)
        t += rng.uniform(30, 300)
        if rng.random() < 0.6 or t > closes:
            free = heapq.heappop(till_free)
            start = max(t, free)
            done = start + 10 + rng.expovariate(1 / plan.service_mean_s)
            heapq.heappush(till_free, done)
            intervals["checkout"].append((t, done))
            _record(visitor, "checkout", t, done, truth)
            crossings.append((t, "checkout", "in", 1))
            crossings.append((done, "checkout", "out", 1))
            events.append(_event(done, SITE, "checkout-till-1", "till.sale", {"total_cents": rng.randint(100, 9000)}))
            truth.sales += 1
            t = done + rng.uniform(5, 20)
        crossings.append((t, "entrance", "out", 1))
        if visitor.phone:
            _rotate_macs(rng, visitor, entered, t, plan.mac_rotation_s)
            truth.macs.update(mac for _, mac in visitor.macs)
            events.extend(_sightings(rng, visitor, plan))
        truth.visitors += 1
    events.extend(_counter_reports(rng, crossings, plan, day_start))
    events.extend(_motion_reports(intervals["coffee_shelf"], "coffee-shelf-motion", plan.motion_hold_s))
    events.extend(_motion_reports(intervals["fitting_rooms"], "fitting-room-motion", plan.motion_hold_s))
    events.extend(_staff_beacon(opens, closes))
    events.sort(key=lambda e: e.received_at)
    _truth_occupancy(truth, intervals, crossings, day_start)
    return events, truth


def _record(visitor: _Visitor, zone: str, start: float, end: float, truth: Truth) -> None:
    visitor.stays.append((zone, start, end))
    if visitor.phone:
        truth.dwell.setdefault((zone, int(end // 3600 * 3600)), []).append(end - start)


def _arrival(rng: random.Random, opens: float, closes: float) -> float:
    # Two peaks (late morning, late afternoon) over a base: a shop's usual day.
    while True:
        t = rng.uniform(opens, closes - 1800)
        hour = (t - opens) / 3600
        weight = 0.4 + math.exp(-((hour - 3.5) ** 2) / 2) + 1.2 * math.exp(-((hour - 9) ** 2) / 2)
        if rng.random() < weight / 1.8:
            return t


def _rotate_macs(rng: random.Random, visitor: _Visitor, start: float, end: float, every: float) -> None:
    t = start - rng.uniform(0, every)  # the phone's rotation is not aligned with the visit
    while t < end:
        visitor.macs.append((t, ":".join(f"{rng.randrange(256):02X}" for _ in range(6))))
        t += every


def _sightings(rng: random.Random, visitor: _Visitor, plan: DayPlan) -> list[Event]:
    out = []
    for zone, start, end in visitor.stays:
        receiver = RECEIVERS.get(zone)
        if receiver is None:
            continue
        t = start + rng.uniform(0, plan.ble_interval_s)
        while t < end:
            if rng.random() >= plan.ble_miss:
                out.append(_event(t, receiver, visitor.mac_at(t).replace(":", ""), "beacon", {"mac": visitor.mac_at(t), "rssi": rng.randint(-80, -55)}))
            t += plan.ble_interval_s
    return out


def _counter_reports(rng: random.Random, crossings: list[tuple[float, str, str, int]], plan: DayPlan, day_start: float) -> list[Event]:
    """Each counter reports its period's in/out every `counter_period_s`; it misses a few people."""
    periods: dict[tuple[str, int], list[int]] = {}
    for t, zone, direction, n in crossings:
        if rng.random() < plan.counter_miss:
            continue
        key = (zone, int((t - day_start) // plan.counter_period_s))
        counts = periods.setdefault(key, [0, 0])
        counts[0 if direction == "in" else 1] += n
    out = []
    for (zone, index), (entered, left) in periods.items():
        t = day_start + (index + 1) * plan.counter_period_s
        out.append(_event(t, SITE, f"{zone}-counter", "footfall", {"period_in": entered, "period_out": left}))
    return out


def _motion_reports(intervals: list[tuple[float, float]], device: str, hold_s: float) -> list[Event]:
    """A PIR sensor: occupied while anyone is there, clear `hold_s` after the last one left."""
    out = []
    merged: list[list[float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] + hold_s:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in merged:
        out.append(_event(start, SITE, device, "occupancy", {"occupancy": True}))
        out.append(_event(end + hold_s, SITE, device, "occupancy", {"occupancy": False}))
    return out


def _staff_beacon(opens: float, closes: float) -> list[Event]:
    t, out = opens, []
    while t < closes:
        out.append(_event(t, "ble-checkout", "staffbeacon", "beacon", {"mac": "C0:FF:EE:00:00:01", "rssi": -50, "uuid": STAFF_BEACON_UUID}))
        t += 30
    return out


def _truth_occupancy(truth: Truth, intervals: dict[str, list[tuple[float, float]]], crossings: list[tuple[float, str, str, int]], day_start: float) -> None:
    deltas: dict[str, list[tuple[float, int]]] = {zone: [] for zone in ZONES}
    for t, zone, direction, n in crossings:
        if zone == "entrance":
            deltas[zone].append((t, n if direction == "in" else -n))
    for zone, spans in intervals.items():
        for start, end in spans:
            deltas[zone].extend(((start, 1), (end, -1)))
    for zone, changes in deltas.items():
        changes.sort()
        value, index = 0, 0
        for minute in range(int(day_start), int(day_start) + 86400, 60):
            end = minute + 60
            while index < len(changes) and changes[index][0] < end:
                value += changes[index][1]
                index += 1
            truth.occupancy[(zone, minute)] = value


def _event(t: float, site: str, device: str, kind: str, attributes: dict[str, object]) -> Event:
    return Event(received_at=t, site=site, device=device, kind=kind, purpose="analytics", attributes=attributes)  # type: ignore[arg-type]
