"""The analytics core: committed events in, per-zone live figures, closed hours and per-minute
series out. Pure and synchronous (no I/O, no clock of its own: time is the events' time and the
adapter's ticks), so a replayed day gives the same figures as the live run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from gateway.analytics.anonymous import DailyHasher, OwnBeacons
from gateway.analytics.settings import AnalyticsSettings, ZoneRole
from gateway.model.zone_tally import HourTally, SeriesPoint
from gateway.analytics.zone import ZoneState
from gateway.model.event import Event
from gateway.model.figures import FigureChange

HOUR = 3600
MINUTE = 60
_SWEEP_EVERY_S = 5.0
# An event this far behind the core's time means the clock was corrected backwards: start again
# from the event's time rather than count a day's events into the future hour (docs/analytics.md).
CLOCK_JUMP_S = 3600.0

ZonesOf = Callable[[str, str], tuple[str, ...]]
FIGURES = ("occupancy", "queue_length", "wait_s", "dwell_s", "devices", "motion", "footfall_1h")


@dataclass(frozen=True, slots=True)
class CoreConfig:
    k: int = 5
    idle_reset_s: float = 900.0
    motion_timeout_s: float = 0.0
    ble_gap_s: float = 120.0
    ble_min_rssi: int = -90
    ble_report_interval_s: float = 0.0
    till_kinds: frozenset[str] = frozenset({"till.sale"})
    timezone: str | None = None

    @classmethod
    def from_settings(cls, settings: AnalyticsSettings, timezone: str | None) -> CoreConfig:
        return cls(
            k=settings.k, idle_reset_s=settings.idle_reset_s, motion_timeout_s=settings.motion_timeout_s,
            ble_gap_s=settings.ble_gap_s, ble_min_rssi=settings.ble_min_rssi, ble_report_interval_s=settings.ble_report_interval_s,
            till_kinds=frozenset(settings.till_kinds),
            timezone=settings.timezone or timezone,
        )


@dataclass(slots=True)
class CoreCounts:
    events: int = 0
    outside_zones: int = 0
    own_beacons: int = 0
    weak_sightings: int = 0
    unusable: int = 0  # a sensor event without the attribute the figure needs
    tills_outside_zones: int = 0
    late: int = 0  # events older than the core's time (taken as now)
    clock_jumps: int = 0  # the clock went back more than CLOCK_JUMP_S: time re-based
    stays_capped: int = 0  # sightings of new devices refused while a zone held MAX_STAYS
    by_kind: dict[str, int] = field(default_factory=dict)


class AnalyticsCore:
    MAX_SERIES_BACKLOG = 24 * 60 * 50  # minute points kept while the store cannot take them

    def __init__(
        self,
        zones_of: ZonesOf,
        roles: dict[str, ZoneRole],
        hasher: DailyHasher,
        config: CoreConfig | None = None,
        own_beacons: OwnBeacons | None = None,
        start: float = 0.0,
    ) -> None:
        self.config = config or CoreConfig()
        self._zones_of = zones_of
        self.roles = dict(roles)
        self._hasher = hasher
        self._own = own_beacons or OwnBeacons(())
        self._tz = ZoneInfo(self.config.timezone) if self.config.timezone else None
        self.now = start
        self.hour = int(start // HOUR * HOUR)
        self.minute = int(start // MINUTE * MINUTE)
        self.day = self._day_of(start)
        self.zones: dict[str, ZoneState] = {}
        self.closed: list[HourTally] = []
        self.series: list[SeriesPoint] = []
        self.counts = CoreCounts()
        self._last_sweep = start
        self._sent: dict[tuple[str, str], float] = {}

    # -- input -------------------------------------------------------------------------------
    def observe_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.observe(event)

    def observe(self, event: Event) -> None:
        counts = self.counts
        counts.events += 1
        t = event.received_at
        if t < self.now - CLOCK_JUMP_S:
            self._rebase(t)
        if t < self.now:
            counts.late += 1
            t = self.now
        else:
            self.advance(t)
        zones = self._zones_of(event.site, event.device)
        kind = event.kind
        if not zones:
            counts.outside_zones += 1
            if kind in self.config.till_kinds:
                counts.tills_outside_zones += 1
            return
        counts.by_kind[kind] = counts.by_kind.get(kind, 0) + 1
        attributes = event.attributes
        if kind == "footfall":
            entered, left = attributes.get("period_in"), attributes.get("period_out")
            if not (_count(entered) and _count(left)):
                counts.unusable += 1
                return
            for zone in zones:
                self._zone(zone).crossing(t, int(entered), int(left))  # type: ignore[arg-type]
        elif kind == "occupancy":
            occupied = attributes.get("occupancy")
            if not isinstance(occupied, bool):
                counts.unusable += 1
                return
            sensor = f"{event.site}/{event.device}"
            for zone in zones:
                self._zone(zone).motion_report(t, sensor, occupied, self.config.motion_timeout_s)
        elif kind == "beacon":
            self._sighting(t, event, zones)
        elif kind in self.config.till_kinds:
            for zone in zones:
                self._zone(zone).tally.tills += 1

    def _sighting(self, t: float, event: Event, zones: tuple[str, ...]) -> None:
        attributes = event.attributes
        if self._own.matches(attributes):
            self.counts.own_beacons += 1
            return
        rssi, identifier = attributes.get("rssi"), attributes.get("mac")
        if not isinstance(identifier, str) or not identifier or isinstance(rssi, bool) or not isinstance(rssi, int):
            self.counts.unusable += 1
            return
        if rssi < self.config.ble_min_rssi:
            self.counts.weak_sightings += 1
            return
        # The identifier is hashed here and dropped: only the day's anonymous id goes on.
        anonymous_id = self._hasher.anonymous_id(identifier, self.day)
        for zone in zones:
            if not self._zone(zone).sighting(t, anonymous_id, self.config.ble_gap_s):
                self.counts.stays_capped += 1

    # -- time --------------------------------------------------------------------------------
    def advance(self, t: float) -> None:
        """Let time pass up to `t`: minutes and hours close, stays end, idle zones reset."""
        if t <= self.now:
            return
        minute = int(t // MINUTE * MINUTE)
        if minute != self.minute:
            boundary = self.minute + MINUTE
            for zone in self.zones.values():
                zone.integrate(boundary)
            self._close_minute()
            self.minute = minute
        hour = int(t // HOUR * HOUR)
        if hour != self.hour:
            end = self.hour + HOUR
            for zone in self.zones.values():
                zone.integrate(end)
                self.closed.append(zone.tally)
                zone.tally = HourTally(zone.name, hour)
                zone.last_at = max(zone.last_at, hour)
            self.hour = hour
        day = self._day_of(t)
        if day != self.day:
            # The salt rotates with the day: yesterday's anonymous ids end here, in memory too.
            for zone in self.zones.values():
                zone.end_all_stays(t)
                zone.closing_reset(t)
            self.day = day
        if t - self._last_sweep >= _SWEEP_EVERY_S:
            self._last_sweep = t
            config = self.config
            for zone in self.zones.values():
                zone.sweep_stays(t, config.ble_gap_s)
                zone.idle_reset(t, config.idle_reset_s)
        self.now = t

    def _rebase(self, t: float) -> None:
        """The clock went back: close what the core holds at its (future) time and go on from `t`."""
        self.counts.clock_jumps += 1
        for zone in self.zones.values():
            zone.end_all_stays(self.now)
            zone.integrate(self.now)
            self.closed.append(zone.tally)
        self.now = t
        self.hour = int(t // HOUR * HOUR)
        self.minute = int(t // MINUTE * MINUTE)
        self.day = self._day_of(t)
        self._last_sweep = t
        for zone in self.zones.values():
            zone.tally = HourTally(zone.name, self.hour)
            zone.last_at = t
            zone.stretch_start = t if zone.stretch_start is not None else None
            zone.idle_since = t if zone.idle_since is not None else None
            zone.exits_recent.clear()

    def _close_minute(self) -> None:
        for zone in self.zones.values():
            self.series.append(
                SeriesPoint(
                    zone.name, self.minute, zone.occupancy(), max(zone.minute_max, zone.occupancy()),
                    zone.queue_length(), len(zone.stays), zone.motion_count(),
                )
            )
            zone.minute_max = zone.occupancy()

    def _day_of(self, t: float) -> str:
        return dt.datetime.fromtimestamp(t, self._tz).date().isoformat() if self._tz else dt.date.fromtimestamp(t).isoformat()

    # -- output ------------------------------------------------------------------------------
    def figures(self, zone: str) -> dict[str, float]:
        state = self.zones.get(zone)
        if state is None:
            return dict.fromkeys(FIGURES, 0.0)
        now = self.now
        return {
            "occupancy": float(state.occupancy()),
            "queue_length": float(state.queue_length()),
            "wait_s": round(state.wait_s(now), 1),
            "dwell_s": float(int(state.dwell_s(now))),
            "devices": float(len(state.stays)),
            "motion": float(state.motion_count()),
            "footfall_1h": float(state.tally.footfall_in),
        }

    def changes(self) -> list[FigureChange]:
        """The figures that changed since the last call (rules triggers, metrics)."""
        found: list[FigureChange] = []
        for name in self.zones:
            for figure, value in self.figures(name).items():
                key = (name, figure)
                if self._sent.get(key) != value:
                    self._sent[key] = value
                    found.append(FigureChange(name, figure, value, self.now))
        return found

    def open_tallies(self) -> list[HourTally]:
        """The current hour's tallies, integrated up to now (written at every flush)."""
        for zone in self.zones.values():
            zone.integrate(self.now)
        return [zone.tally for zone in self.zones.values()]

    def take_closed(self) -> list[HourTally]:
        closed, self.closed = self.closed, []
        return closed

    def take_series(self) -> list[SeriesPoint]:
        series, self.series = self.series, []
        return series

    def role(self, zone: str) -> ZoneRole:
        return self.roles.get(zone, ZoneRole.OTHER)

    # -- restart -----------------------------------------------------------------------------
    def restore(self, tallies: Iterable[HourTally], counted: dict[str, int]) -> None:
        """After a restart: the current hour's stored tallies go on accumulating, and the counted
        occupancy of the last minute point (same day) is taken up again."""
        for tally in tallies:
            if tally.hour == self.hour:
                self._zone(tally.zone).tally = tally
        for zone, value in counted.items():
            state = self._zone(zone)
            state.counted = value
            state.has_counter = state.has_counter or value > 0

    def _zone(self, name: str) -> ZoneState:
        state = self.zones.get(name)
        if state is None:
            state = self.zones[name] = ZoneState(name, self.role(name), self.hour, self.now, self.config.ble_report_interval_s)
        return state


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
