"""The admin API's bodies for the zone figures (gateway/analytics): live, per minute, per hour."""

from __future__ import annotations

from pydantic import Field

from gateway.api.models import ApiModel


class ZoneFigures(ApiModel):
    zone: str
    role: str
    occupancy: float = Field(description="people in the zone now (counters, else BLE devices, else motion sensors)")
    queue_length: float = Field(description="checkout zones: people waiting (the occupancy); 0 elsewhere")
    wait_s: float = Field(description="checkout zones: estimated wait by Little's law over the last 10 minutes")
    dwell_s: float = Field(description="how long the zone's current presence stretch (motion) has lasted")
    devices: float = Field(description="anonymous BLE devices present now")
    motion: float = Field(description="motion sensors seeing someone now")
    footfall_1h: float = Field(description="people counted in during the current hour")


class ZoneFiguresReport(ApiModel):
    at: float
    zones: list[ZoneFigures]


class ZoneSeries(ApiModel):
    zone: str
    role: str
    minutes: list[int] = Field(description="unix time of each minute's start")
    occupancy: list[int]
    occupancy_max: list[int]
    queue: list[int]
    devices: list[int]


class SeriesReport(ApiModel):
    since: float
    step_s: int
    zones: list[ZoneSeries]


class HourFigures(ApiModel):
    zone: str
    role: str
    hour: int = Field(description="unix time of the hour's start")
    footfall_in: int
    footfall_out: int
    occupancy_mean: float
    occupancy_max: int
    visits: int
    dwell_mean_s: float
    devices: int
    device_visits: int
    device_dwell_mean_s: float
    exits: int
    wait_mean_s: float
    tills: int
    synced_groups: int = Field(description="bits of the figure groups released, merged or suppressed (docs/analytics.md)")


class Conversion(ApiModel):
    hour: int
    entrances: int = Field(description="people counted in at entrance zones")
    tills: int = Field(description="sales at the tills")
    rate: float | None = Field(description="tills / entrances; null without entrances")


class HoursReport(ApiModel):
    items: list[HourFigures]
    conversion: list[Conversion]
