"""The `rules:` section of the gateway's settings (owned by the rules part)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.model.event import Purpose
from gateway.rules.model import WEEKDAYS, Weekday, parse_clock

_DEFAULT_DIR = Path(__file__).resolve().parents[2] / "rules"


class RulesSettings(BaseModel):

    # The part this section configures (gateway/assembly.py finds the parts through Settings).
    part: ClassVar[str] = "gateway.rules.part:PART"
    # Same policy as gateway.config.settings.Section (not imported: that module imports this one).
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    dir: Path = Field(_DEFAULT_DIR, description="folder of rules/*.yaml files")
    reload_poll_s: float = Field(1.0, ge=0, description="how often the files are checked for changes; 0 = only on SIGHUP")
    timezone: str | None = Field(None, description="IANA zone for time conditions and quiet hours; default: the system's")
    opening_hours: dict[Weekday, list[str]] = Field(
        default_factory=lambda: {cast(Weekday, day): ["08:00-20:00"] for day in WEEKDAYS[:6]},
        description="per weekday, HH:MM-HH:MM ranges the shop is open (the `open` condition)",
    )
    presence_ttl_s: float = Field(900.0, gt=0, description="how long an identify binds a customer to its zone/site")
    visit_gap_s: float = Field(4 * 3600.0, gt=0, description="an identify this long after the last visit began starts a new visit")
    visit_purpose: Purpose = "personalisation"
    profile_cache_s: float = Field(300.0, ge=0, description="cached profiles older than this are re-read before use")
    lang: str = "en"
    say_topic: str = "hermes/tts/say"
    display_topic: str = "touchgate/{site}/display/{display}"
    staff_topic: str = "touchgate/{site}/staff"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("opening_hours")
    @classmethod
    def _ranges(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for ranges in value.values():
            for text in ranges:
                start, sep, end = text.partition("-")
                if not sep:
                    raise ValueError(f"write opening hours as HH:MM-HH:MM, not {text!r}")
                parse_clock(start)
                parse_clock(end)
        return value

    def opening_minutes(self) -> dict[int, list[tuple[int, int]]]:
        out: dict[int, list[tuple[int, int]]] = {}
        for day, ranges in self.opening_hours.items():
            spans = []
            for text in ranges:
                start, _, end = text.partition("-")
                spans.append((parse_clock(start), parse_clock(end)))
            out[WEEKDAYS.index(day)] = spans
        return out
