"""The analytics part at run time: committed events into the pure core, figures out to listeners
(rules' figure triggers, metrics), the core's tallies and series into SQLite, and k-anonymous
aggregates into the outbox. Thin: every decision is made in core.py and release.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sqlite3
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from gateway.analytics.core import HOUR, AnalyticsCore
from gateway.model.figures import FigureChange
from gateway.analytics.release import DayOf, Release, plan_release
from gateway.analytics.settings import AnalyticsSettings
from gateway.model.zone_tally import ALL_GROUPS
from gateway.model.event import Event
from gateway.model.gate import ConsentGate
from gateway.store.analytics_rows import last_counted, load_hours, release_aggregates, unsettled_hours, write_figures
from gateway.store.database import Store

log = logging.getLogger(__name__)

AGGREGATE_KIND_PREFIX = "analytics."
AGGREGATE_DEVICE = "analytics"
ALL_BITS = sum(int(g) for g in ALL_GROUPS)
_RELEASE_EVERY_S = 60.0
# Unsettled hours older than this are looked at no more (their day has long been released).
_RELEASE_LOOKBACK_S = 3 * 86400

FigureListener = Callable[[list[FigureChange]], None]


def day_of_hour(timezone: str | None) -> DayOf:
    """An hour's local day, and when that day ends (unix time): small groups merge per day."""
    tz = ZoneInfo(timezone) if timezone else None

    def day_of(hour: int) -> tuple[str, float]:
        local = dt.datetime.fromtimestamp(hour, tz) if tz else dt.datetime.fromtimestamp(hour).astimezone()
        midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), local.tzinfo)
        return local.date().isoformat(), midnight.timestamp()

    return day_of


def aggregate_events(release: Release, site: str, k: int, now: float) -> list[Event]:
    """The aggregates as events of their own kind (`analytics.hour`, `analytics.zone_day`,
    `analytics.site_day`), purpose `analytics`, anonymous: counts, sums' means and group sizes."""
    return [
        Event(
            received_at=now, site=site, device=AGGREGATE_DEVICE, kind=AGGREGATE_KIND_PREFIX + aggregate.level,
            purpose="analytics", attributes=aggregate.attributes(k),  # type: ignore[arg-type]
        )
        for aggregate in release.aggregates
    ]


class AnalyticsService:
    """What other parts use: `on_committed` (ingest listener), `on_figures` (listeners of figure
    changes), `live()` (the API and metrics), and `run()` (ticks, flushes, releases)."""

    def __init__(
        self,
        settings: AnalyticsSettings,
        core: AnalyticsCore,
        store: Store,
        site: str,
        gate: Callable[[], ConsentGate],
        timezone: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.core = core
        self._store = store
        self._site = site
        self._gate = gate
        self._clock = clock
        self._day_of = day_of_hour(settings.timezone or timezone)
        self.on_figures: list[FigureListener] = []
        self.on_released: list[Callable[[], None]] = []  # aggregates were queued (wake the sync sender)
        self.released = 0
        self.suppressed = 0
        self.flushes = 0
        self.flush_failures = 0

    async def restore(self) -> None:
        """Take up the current hour's tallies and the counted occupancy (same day) after a restart."""
        now = self._clock()
        self.core.advance(now)
        hour = int(now // HOUR * HOUR)
        day_start = self._day_of(hour)[1] - 86400
        tallies, counted = await self._store.call(lambda db: (load_hours(db, hour), last_counted(db, day_start)))
        self.core.restore(tallies, counted)

    # -- inputs (in the event loop) ---------------------------------------------------------
    def on_committed(self, events: list[Event]) -> None:
        self.core.observe_all(events)
        self._announce()

    def _announce(self) -> None:
        changes = self.core.changes()
        if changes:
            for listener in self.on_figures:
                listener(changes)

    def live(self) -> dict[str, dict[str, float]]:
        """Every zone's figures now; zones no event has reached yet show zeros."""
        names = sorted(set(self.core.zones) | set(self.core.roles))
        return {zone: self.core.figures(zone) for zone in names}

    def roles(self) -> dict[str, str]:
        return {zone: role.value for zone, role in self.core.roles.items()}

    # -- running -----------------------------------------------------------------------------
    async def run(self) -> None:
        await self.restore()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._tick(), name="analytics-tick")
                group.create_task(self._flush_forever(), name="analytics-flush")
                if self.settings.sync:
                    group.create_task(self._release_forever(), name="analytics-release")
        finally:
            # What the core holds goes to disk on the way out (a clean stop loses no minute).
            try:
                await self.flush()
            except (sqlite3.Error, RuntimeError) as exc:
                log.warning("analytics not flushed at stop: %s", exc)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.settings.tick_s)
            self.core.advance(self._clock())
            self._announce()

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.flush_s)
            try:
                await self.flush()
            except sqlite3.OperationalError as exc:
                # Disk full or locked: the tallies stay in memory (they are running totals) and the
                # next flush writes them; only minute points taken meanwhile are lost.
                self.flush_failures += 1
                log.error("analytics figures not saved (%s); retrying at the next flush", exc)

    async def flush(self) -> None:
        core = self.core
        core.advance(self._clock())
        closed, series = core.take_closed(), core.take_series()
        hours = closed + core.open_tallies()
        now = core.now
        series_before = now - self.settings.series_retention_s
        hours_before = now - self.settings.hours_retention_days * 86400
        try:
            await self._store.call(lambda db: write_figures(db, hours, series, series_before, hours_before))
        except BaseException:
            # Not written: closed hours and minute points wait for the next flush (bounded by the
            # core: a day of them at most).
            core.closed[:0] = closed
            core.series[:0] = series[-core.MAX_SERIES_BACKLOG:]
            raise
        self.flushes += 1

    async def _release_forever(self) -> None:
        while True:
            await asyncio.sleep(_RELEASE_EVERY_S)
            try:
                await self.release()
            except sqlite3.OperationalError as exc:
                log.error("analytics aggregates not released (%s); retrying later", exc)

    async def release(self) -> Release:
        """Queue what is k-anonymous and settle the rest (merged or suppressed)."""
        now = self._clock()
        settings = self.settings
        tallies = await self._store.call(lambda db: unsettled_hours(db, now - _RELEASE_LOOKBACK_S, ALL_BITS))
        release = plan_release(tallies, settings.k, now, settings.sync_delay_s, self._day_of)
        gate = self._gate()
        events = [e for e in aggregate_events(release, self._site, settings.k, now) if gate.decide(e).sync]
        if release.settled:
            await self._store.call(lambda db: release_aggregates(db, release.settled, events))
        # The open hour's tallies in memory carry settled bits only from the store: never ripe.
        self.released += len(events)
        self.suppressed += sum(release.suppressed.values())
        if events:
            for listener in self.on_released:
                listener()
        return release
