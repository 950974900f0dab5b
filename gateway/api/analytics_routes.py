"""The admin API's zone figures: live (`/api/analytics/zones`), per minute for the plots
(`/api/analytics/series`) and per hour with the conversion proxy (`/api/analytics/hours`).
These are the shop's own figures, read in the shop; what leaves is only k-anonymous (sync)."""

from __future__ import annotations

import time

from aiohttp import web
from pydantic import Field

from gateway.model.zone_tally import HourTally
from gateway.api.analytics_models import (
    Conversion,
    HourFigures,
    HoursReport,
    SeriesReport,
    ZoneFigures,
    ZoneFiguresReport,
    ZoneSeries,
)
from gateway.api.models import ApiModel
from gateway.api.routes import ctx_of, parse_query, reply
from gateway.ports import ZoneFigures as ZoneFiguresPort
from gateway.store.analytics_rows import load_hours, load_series

HOUR = 3600
ZONE_PATTERN = r"^[A-Za-z0-9_.-]{1,100}$"


class SeriesQuery(ApiModel):
    hours: float = Field(3.0, gt=0, le=48)
    zone: str | None = Field(None, pattern=ZONE_PATTERN)


class HoursQuery(ApiModel):
    hours: int = Field(24, ge=1, le=24 * 90)
    zone: str | None = Field(None, pattern=ZONE_PATTERN)


def _analytics(request: web.Request) -> ZoneFiguresPort:
    services = ctx_of(request).services
    if services.analytics is None:
        raise web.HTTPServiceUnavailable(text=services.analytics_missing_reason)
    return services.analytics


async def zones(request: web.Request) -> web.Response:
    analytics = _analytics(request)
    roles = analytics.roles()
    items = [ZoneFigures(zone=zone, role=roles.get(zone, "other"), **figures) for zone, figures in analytics.live().items()]
    return reply(ZoneFiguresReport(at=time.time(), zones=items))


async def series(request: web.Request) -> web.Response:
    roles = _analytics(request).roles()
    q = parse_query(request, SeriesQuery)
    since = time.time() - q.hours * HOUR
    points = await ctx_of(request).reader.call(lambda db: load_series(db, since, q.zone))
    by_zone: dict[str, ZoneSeries] = {}
    for p in points:
        entry = by_zone.get(p.zone)
        if entry is None:
            entry = by_zone[p.zone] = ZoneSeries(zone=p.zone, role=roles.get(p.zone, "other"), minutes=[], occupancy=[], occupancy_max=[], queue=[], devices=[])
        entry.minutes.append(p.minute)
        entry.occupancy.append(p.occupancy)
        entry.occupancy_max.append(p.occupancy_max)
        entry.queue.append(p.queue)
        entry.devices.append(p.devices)
    return reply(SeriesReport(since=since, step_s=60, zones=list(by_zone.values())))


async def hours(request: web.Request) -> web.Response:
    roles = _analytics(request).roles()
    q = parse_query(request, HoursQuery)
    since = (time.time() // HOUR - q.hours + 1) * HOUR
    tallies = await ctx_of(request).reader.call(lambda db: load_hours(db, since, q.zone))
    items = [_hour(t, roles.get(t.zone, "other")) for t in tallies]
    conversion: dict[int, list[int]] = {}
    for t in tallies:
        entry = conversion.setdefault(t.hour, [0, 0])
        if roles.get(t.zone) == "entrance":
            entry[0] += t.footfall_in
        entry[1] += t.tills
    return reply(HoursReport(
        items=items,
        conversion=[Conversion(hour=h, entrances=e, tills=s, rate=round(s / e, 4) if e else None) for h, (e, s) in sorted(conversion.items())],
    ))


def _hour(t: HourTally, role: str) -> HourFigures:
    return HourFigures(
        zone=t.zone, role=role, hour=t.hour, footfall_in=t.footfall_in, footfall_out=t.footfall_out,
        occupancy_mean=round(t.occupancy_integral / HOUR, 3), occupancy_max=t.occupancy_max, visits=t.visits,
        dwell_mean_s=round(t.dwell_sum_s / t.visits, 1) if t.visits else 0.0, devices=t.devices, device_visits=t.device_visits,
        device_dwell_mean_s=round(t.device_dwell_sum_s / t.device_visits, 1) if t.device_visits else 0.0, exits=t.exits,
        wait_mean_s=round(t.occupancy_integral / t.exits, 1) if t.exits and role == "checkout" else 0.0, tills=t.tills,
        synced_groups=t.settled,
    )


def add_analytics_routes(app: web.Application) -> None:
    app.router.add_get("/api/analytics/zones", zones)
    app.router.add_get("/api/analytics/series", series)
    app.router.add_get("/api/analytics/hours", hours)
