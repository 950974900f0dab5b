"""The `analytics:` section of the gateway's settings (owned by the analytics part)."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field


class ZoneRole(StrEnum):
    """What a zone is for: which figures make sense there (queues only at checkouts)."""

    ENTRANCE = "entrance"
    AISLE = "aisle"
    CHECKOUT = "checkout"
    FITTING_ROOM = "fitting_room"
    OTHER = "other"


class ZoneSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: ZoneRole = ZoneRole.OTHER


class AnalyticsSettings(BaseModel):
    # The part this section configures (gateway/assembly.py finds the parts through Settings).
    part: ClassVar[str] = "gateway.analytics.part:PART"
    # Same policy as gateway.config.settings.Section (not imported: that module imports this one).
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # The zones themselves (which sensors, counters and BLE receivers) are the rules' `zones:`
    # (rules/*.yaml); here each gets its role. A zone of the rules not named here is `other`.
    zones: dict[str, ZoneSpec] = Field(default_factory=dict, description="zone name (from the rules' zones:) → role")
    k: int = Field(5, ge=2, le=1000, description="a synced figure must count at least this many people/devices")
    idle_reset_s: float = Field(
        900.0, gt=0, description="a counted occupancy is reset to 0 once every motion sensor of the zone has been idle this long"
    )
    motion_timeout_s: float = Field(
        0.0, ge=0, description="the motion sensors' own hold time (Aqara: 60-90 s), taken off each presence stretch"
    )
    ble_gap_s: float = Field(120.0, gt=0, description="an anonymous device not seen for this long has left the zone")
    ble_report_interval_s: float = Field(
        0.0, ge=0, le=600, description="how often a BLE receiver reports a device it keeps seeing; added to each stay's seen span"
    )
    ble_min_rssi: int = Field(-90, ge=-127, le=20, description="weaker BLE sightings are ignored (another room)")
    own_beacons: list[str] = Field(
        default_factory=list, description="the shop's own beacons (iBeacon uuid, or MAC glob): never counted as people"
    )
    till_kinds: list[str] = Field(default_factory=lambda: ["till.sale"], description="event kinds that are a sale at a till")
    series_retention_s: float = Field(2 * 86400.0, ge=3600, description="how long the per-minute series (plots) are kept")
    hours_retention_days: int = Field(90, ge=1, le=3650, description="how long the hourly figures are kept locally")
    flush_s: float = Field(5.0, gt=0, le=3600, description="how often the live figures are written to SQLite")
    tick_s: float = Field(1.0, gt=0, le=60, description="how often time-dependent figures (dwell, idle resets) advance")
    sync: bool = Field(True, description="queue k-anonymous hourly aggregates in the outbox (purpose analytics)")
    sync_delay_s: float = Field(300.0, ge=0, description="an hour is released this long after it ends (late events)")
    timezone: str | None = Field(None, description="IANA zone of the shop's day (salt rotation, daily reset); default: rules.timezone")
