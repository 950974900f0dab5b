"""Which aggregates may leave the shop: k-anonymity over closed hours. Pure.

Every figure group of a zone-hour (gateway/analytics/tally.py) has a population: the people or
devices behind it. A group leaves the shop:
1. in its own zone-hour aggregate, once the hour is closed, if its population is at least k;
2. otherwise, once the day is closed, merged with the zone's other small groups of that day
   (a `zone_day` aggregate), if their summed population is at least k;
3. otherwise merged across all zones of the day (a `site_day` aggregate), if at least k;
4. otherwise never: it is suppressed.
Each group is settled exactly once (released, merged or suppressed), so no two synced aggregates
cover the same group and none can be subtracted from another to isolate a small one.

Anonymous devices are distinct per hour; the same device may be counted in several hours, so the
population of merged device groups is the largest hour's (a lower bound on the distinct devices
of the union, never an overstatement). Small device groups are therefore suppressed, not merged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gateway.model.zone_tally import ALL_GROUPS, Group, HourTally

HOUR = 3600
SITE_ZONE = "*"

DayOf = Callable[[int], tuple[str, float]]  # hour start → (local day, the day's end as unix time)


@dataclass(slots=True)
class Aggregate:
    """One synced record: a zone-hour, a zone's small groups of a day, or a day's leftovers."""

    level: str  # "hour" | "zone_day" | "site_day"
    zone: str
    start: int  # the first hour covered
    day: str
    hours: int = 0  # zone-hours covered
    values: dict[str, float] = field(default_factory=dict)
    populations: dict[str, int] = field(default_factory=dict)
    # (zone, hour, group) of every figure group inside: each is in one aggregate at most.
    covered: set[tuple[str, int, int]] = field(default_factory=set, repr=False)

    def attributes(self, k: int) -> dict[str, str | int | float]:
        out: dict[str, str | int | float] = {
            "level": self.level, "zone": self.zone, "start": self.start, "day": self.day, "hours": self.hours, "k": k,
            "group_min": min(self.populations.values()),
        }
        out.update({name: round(value, 2) for name, value in sorted(self.values.items())})
        return out


@dataclass(slots=True)
class Release:
    aggregates: list[Aggregate] = field(default_factory=list)
    # (zone, hour) → group bits settled now (released, merged or suppressed)
    settled: dict[tuple[str, int], int] = field(default_factory=dict)
    suppressed: dict[str, int] = field(default_factory=dict)  # group name → population suppressed

    def settle(self, tally: HourTally, group: Group) -> None:
        key = (tally.zone, tally.hour)
        self.settled[key] = self.settled.get(key, 0) | int(group)
        tally.settled |= int(group)


def plan_release(tallies: Iterable[HourTally], k: int, now: float, delay_s: float, day_of: DayOf) -> Release:
    """Decide what leaves, given the stored tallies (with their `settled` bits). Hours still open
    (or within `delay_s` of their end) are not touched; small groups wait for their day to end."""
    release = Release()
    ripe = [t for t in tallies if t.hour + HOUR + delay_s <= now]
    hourly: dict[tuple[str, int], Aggregate] = {}
    waiting: list[tuple[HourTally, Group]] = []
    for tally in sorted(ripe, key=lambda t: (t.hour, t.zone)):
        for group in ALL_GROUPS:
            if tally.settled & group:
                continue
            population = tally.population(group)
            if population == 0:
                release.settle(tally, group)  # nothing to say
            elif population >= k:
                day, _ = day_of(tally.hour)
                aggregate = hourly.setdefault((tally.zone, tally.hour), Aggregate("hour", tally.zone, tally.hour, day, 1))
                _add(aggregate, tally, group)
                release.settle(tally, group)
            else:
                waiting.append((tally, group))
    release.aggregates.extend(hourly.values())
    closed_days = [(tally, group) for tally, group in waiting if day_of(tally.hour)[1] + delay_s <= now]
    leftovers = _merge(closed_days, k, release, by_zone=True, day_of=day_of)
    leftovers = _merge(leftovers, k, release, by_zone=False, day_of=day_of)
    for aggregate in release.aggregates:
        _finish(aggregate)
    for tally, group in leftovers:
        name = group.name.lower() if group.name else str(int(group))
        release.suppressed[name] = release.suppressed.get(name, 0) + tally.population(group)
        release.settle(tally, group)
    return release


def _merge(
    items: list[tuple[HourTally, Group]], k: int, release: Release, *, by_zone: bool, day_of: DayOf
) -> list[tuple[HourTally, Group]]:
    """Merge small groups per (zone, day) or per day; release those that reach k; return the rest."""
    buckets: dict[tuple[str, str, Group], list[HourTally]] = {}
    for tally, group in items:
        day, _ = day_of(tally.hour)
        buckets.setdefault((tally.zone if by_zone else SITE_ZONE, day, group), []).append(tally)
    merged: dict[tuple[str, str], Aggregate] = {}
    rest: list[tuple[HourTally, Group]] = []
    for (zone, day, group), members in buckets.items():
        populations = [m.population(group) for m in members]
        population = max(populations) if group is Group.DEVICES else sum(populations)
        if population < k:
            rest.extend((m, group) for m in members)
            continue
        aggregate = merged.get((zone, day))
        if aggregate is None:
            level = "zone_day" if by_zone else "site_day"
            aggregate = merged[(zone, day)] = Aggregate(level, zone, min(m.hour for m in members), day)
        aggregate.start = min(aggregate.start, *(m.hour for m in members))
        for member in members:
            _add(aggregate, member, group)
            release.settle(member, group)
    release.aggregates.extend(merged.values())
    return rest


def _add(aggregate: Aggregate, tally: HourTally, group: Group) -> None:
    v, p = aggregate.values, aggregate.populations
    aggregate.covered.add((tally.zone, tally.hour, int(group)))
    aggregate.hours = len({(zone, hour) for zone, hour, _ in aggregate.covered})
    if group is Group.FOOTFALL:
        _sum(v, footfall_in=tally.footfall_in, footfall_out=tally.footfall_out, occupancy_person_s=tally.occupancy_integral)
        v["occupancy_max"] = max(v.get("occupancy_max", 0.0), float(tally.occupancy_max))
        p["footfall"] = p.get("footfall", 0) + tally.footfall_in
    elif group is Group.VISITS:
        _sum(v, visits=tally.visits, dwell_sum_s=tally.dwell_sum_s)
        p["visits"] = p.get("visits", 0) + tally.visits
    elif group is Group.DEVICES:
        _sum(v, device_visits=tally.device_visits, device_dwell_sum_s=tally.device_dwell_sum_s)
        v["devices"] = max(v.get("devices", 0.0), float(tally.devices))
        p["devices"] = max(p.get("devices", 0), tally.devices)
    elif group is Group.WAIT:
        _sum(v, exits=tally.exits, wait_person_s=tally.occupancy_integral)
        p["exits"] = p.get("exits", 0) + tally.exits
    else:
        _sum(v, tills=tally.tills)
        p["tills"] = p.get("tills", 0) + tally.tills


def _sum(values: dict[str, float], **more: float) -> None:
    for name, value in more.items():
        values[name] = values.get(name, 0.0) + float(value)


def _finish(aggregate: Aggregate) -> None:
    """Means from the sums (sums of dwell stay local: only means of >= k leave)."""
    v = aggregate.values
    if "visits" in v:
        v["dwell_mean_s"] = v.pop("dwell_sum_s", 0.0) / v["visits"] if v["visits"] else 0.0
    if "device_visits" in v:
        v["device_dwell_mean_s"] = v.pop("device_dwell_sum_s", 0.0) / v["device_visits"] if v["device_visits"] else 0.0
    if "exits" in v:
        v["wait_mean_s"] = v.pop("wait_person_s", 0.0) / v["exits"] if v["exits"] else 0.0
    if "footfall_in" in v and "occupancy_person_s" in v:
        v["occupancy_mean"] = v.pop("occupancy_person_s") / (HOUR * max(1, aggregate.hours))
    v.pop("occupancy_person_s", None)
