"""Frequency caps, cooldowns and quiet hours: may this rule fire for this scope now? Pure.

State per (rule, scope): recent firing times (as far back as the longest cap window), and the
count within the customer's current visit. Persisted by the adapter so caps hold across restarts.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from gateway.rules.clock import LocalClock, in_window, weekday_index
from gateway.rules.model import Limits, QuietHours

_MAX_KEPT = 1000


@dataclass(slots=True)
class LimitState:
    fired: list[float] = field(default_factory=list)
    visit: float | None = None
    visit_count: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"fired": self.fired, "visit": self.visit, "visit_count": self.visit_count}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> LimitState:
        return cls([float(t) for t in value.get("fired", [])], value.get("visit"), int(value.get("visit_count", 0)))


class CompiledLimits:
    """A rule's limits in the shape the hot path wants."""

    __slots__ = ("cooldown", "window_caps", "visit_cap", "keep_s", "quiet")

    def __init__(self, limits: Limits, quiet_hours: list[QuietHours], keep_s: float = 0.0) -> None:
        self.cooldown = limits.cooldown
        self.window_caps = [(c.max, float(c.per)) for c in limits.caps if c.per != "visit"]
        visit_caps = [c.max for c in limits.caps if c.per == "visit"]
        self.visit_cap = min(visit_caps) if visit_caps else None
        self.keep_s = max([w for _, w in self.window_caps] + [self.cooldown or 0.0, keep_s])
        self.quiet = [(q.start, q.end, weekday_index(q.weekdays)) for q in quiet_hours]

    def quiet_now(self, clock: LocalClock, now: float) -> bool:
        if not self.quiet:
            return False
        weekday, minute = clock.at(now)
        for start, end, days in self.quiet:
            # A window that wraps midnight belongs to the day it started on.
            day = weekday if start <= end or minute >= start else (weekday - 1) % 7
            if in_window(minute, start, end) and (days is None or day in days):
                return True
        return False


class LimitBook:
    def __init__(self) -> None:
        self.states: dict[tuple[str, str], LimitState] = {}
        self.dirty: set[tuple[str, str]] = set()

    def blocked(self, rule_id: str, scope: str, limits: CompiledLimits, now: float, visit: float | None) -> str | None:
        """Why the rule may not fire now, or None."""
        state = self.states.get((rule_id, scope))
        if state is None:
            return None
        if limits.cooldown and state.fired and now - state.fired[-1] < limits.cooldown:
            return f"cooldown: {limits.cooldown - (now - state.fired[-1]):.0f}s left"
        for most, window in limits.window_caps:
            count = len(state.fired) - bisect.bisect_left(state.fired, now - window)
            if count >= most:
                return f"cap: fired {count} time(s) in {_human(window)} (max {most})"
        if limits.visit_cap is not None and visit is not None and state.visit == visit and state.visit_count >= limits.visit_cap:
            return f"cap: fired {state.visit_count} time(s) this visit (max {limits.visit_cap})"
        return None

    def record(self, rule_id: str, scope: str, limits: CompiledLimits, now: float, visit: float | None) -> None:
        key = (rule_id, scope)
        state = self.states.get(key)
        if state is None:
            state = self.states[key] = LimitState()
        state.fired.append(now)
        # Keep what the caps and the `fired` counter can still ask about, and always the last one.
        drop = min(bisect.bisect_left(state.fired, now - limits.keep_s), len(state.fired) - 1)
        drop = max(drop, len(state.fired) - _MAX_KEPT)
        if drop > 0:
            del state.fired[:drop]
        if visit is not None:
            if state.visit != visit:
                state.visit, state.visit_count = visit, 0
            state.visit_count += 1
        self.dirty.add(key)

    def fired_in(self, rule_id: str, scope: str, window_s: float, now: float) -> int:
        state = self.states.get((rule_id, scope))
        if state is None:
            return 0
        return len(state.fired) - bisect.bisect_left(state.fired, now - window_s)

    def take_dirty(self) -> list[tuple[str, str, dict[str, Any]]]:
        out = [(rule_id, scope, self.states[(rule_id, scope)].to_json()) for rule_id, scope in self.dirty if (rule_id, scope) in self.states]
        self.dirty.clear()
        return out

    def restore(self, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
        for rule_id, scope, value in rows:
            self.states[(rule_id, scope)] = LimitState.from_json(value)


def _human(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
