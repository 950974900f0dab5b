"""Local time of day and weekday for time conditions, quiet hours and opening hours. Pure.

Rules speak shop time ("08:00", "sat"); events carry Unix seconds. Converting costs a few
microseconds, so it is done at most once per second of event time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from gateway.rules.model import WEEKDAYS


class LocalClock:
    __slots__ = ("_tz", "_second", "_value")

    def __init__(self, timezone: str | None) -> None:
        self._tz: tzinfo | None = ZoneInfo(timezone) if timezone else None
        self._second = -1
        self._value = (0, 0)

    def at(self, now: float) -> tuple[int, int]:
        """(weekday 0=Monday, minute of the day) at Unix time `now`."""
        second = int(now)
        if second != self._second:
            moment = datetime.fromtimestamp(second, self._tz) if self._tz else datetime.fromtimestamp(second).astimezone()
            self._value = (moment.weekday(), moment.hour * 60 + moment.minute)
            self._second = second
        return self._value


def in_window(minute: int, start: int | None, end: int | None) -> bool:
    """Is `minute` within [start, end)? A window whose end is before its start wraps past midnight."""
    if start is None and end is None:
        return True
    if start is None:
        return minute < end  # type: ignore[operator]
    if end is None:
        return minute >= start
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


def weekday_index(names: Sequence[str] | None) -> frozenset[int] | None:
    return None if names is None else frozenset(WEEKDAYS.index(n) for n in names)
