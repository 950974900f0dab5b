"""What one zone accumulates in one hour (the unit that is stored and, if k-anonymous, synced),
and its per-minute points: plain rows of the analytics part, here so the store can hold them. Pure.

Each figure belongs to a *group* whose `population` is the number of people or devices behind
it; the release (gateway/analytics/release.py) lets a group leave the shop only when that
population is at least k.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntFlag


SEEN_MAX = 50_000


class Group(IntFlag):
    """The figure groups of an hour; a bit set in `HourTally.settled` means the group has been
    released, merged into a coarser aggregate, or suppressed (it is never released twice)."""

    FOOTFALL = 1  # people counters: footfall_in/out, occupancy mean/max (population: crossings in)
    VISITS = 2  # motion presence stretches: visits, dwell (population: stretches)
    DEVICES = 4  # anonymous BLE devices: devices, device visits and dwell (population: distinct devices)
    WAIT = 8  # checkout throughput: exits and the Little's-law wait (population: exits)
    TILLS = 16  # sales at the tills (population: sales)


ALL_GROUPS = (Group.FOOTFALL, Group.VISITS, Group.DEVICES, Group.WAIT, Group.TILLS)


@dataclass(slots=True)
class HourTally:
    zone: str
    hour: int  # unix seconds of the hour's start (UTC-aligned; hours are the same everywhere)
    footfall_in: int = 0
    footfall_out: int = 0
    visits: int = 0
    dwell_sum_s: float = 0.0
    devices: int = 0
    device_visits: int = 0
    device_dwell_sum_s: float = 0.0
    exits: int = 0
    occupancy_integral: float = 0.0  # person-seconds in the zone during the hour
    occupancy_max: int = 0
    tills: int = 0
    settled: int = 0
    # In memory only: today's anonymous ids seen this hour (only their number is stored).
    seen: set[bytes] = field(default_factory=set, repr=False, compare=False)

    def population(self, group: Group) -> int:
        if group is Group.FOOTFALL:
            return self.footfall_in
        if group is Group.VISITS:
            return self.visits
        if group is Group.DEVICES:
            return self.devices
        if group is Group.WAIT:
            return self.exits
        return self.tills

    def note_device(self, anonymous_id: bytes) -> None:
        # Bounded memory under a flood of random MACs: past SEEN_MAX distinct ids an hour the
        # count stays there (an undercount: the safe side for k-anonymity).
        if len(self.seen) >= SEEN_MAX:
            return
        if anonymous_id not in self.seen:
            self.seen.add(anonymous_id)
            # After a restart the stored count is kept and new ids add to the set: max(), never a
            # sum, so the population is never overstated (the safe side for k-anonymity).
            self.devices = max(self.devices, len(self.seen))

    def row(self) -> tuple[object, ...]:
        return (
            self.zone, self.hour, self.footfall_in, self.footfall_out, self.visits, self.dwell_sum_s, self.devices,
            self.device_visits, self.device_dwell_sum_s, self.exits, self.occupancy_integral, self.occupancy_max,
            self.tills, self.settled,
        )


HOUR_COLUMNS = (
    "zone", "hour", "footfall_in", "footfall_out", "visits", "dwell_sum_s", "devices", "device_visits",
    "device_dwell_sum_s", "exits", "occupancy_integral", "occupancy_max", "tills", "settled",
)


def tally_from_row(row: tuple[object, ...]) -> HourTally:
    values = dict(zip(HOUR_COLUMNS, row, strict=True))
    return HourTally(**values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One zone's state at the end of one minute (the plots on the status page)."""

    zone: str
    minute: int
    occupancy: int
    occupancy_max: int
    queue: int
    devices: int
    motion: int
