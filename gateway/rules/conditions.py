"""Conditions compiled once into small closures over `Facts`. Pure.

Each compiled condition carries a description, so `touchgate rules test` can say which one
stopped a rule ("profile.segments contains coffee_lover: false").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.rules.clock import in_window, weekday_index
from gateway.rules.facts import MISSING, Facts
from gateway.rules.model import Compare, Condition

Predicate = Callable[[Facts], bool]
# Opening hours: weekday (0=Monday) → list of (start, end) minutes; given by settings.
OpeningHours = dict[int, list[tuple[int, int]]]


@dataclass(frozen=True, slots=True)
class CompiledCondition:
    test: Predicate
    description: str


def compile_condition(condition: Condition, opening_hours: OpeningHours) -> CompiledCondition:
    if condition.any is not None:
        parts = [compile_condition(c, opening_hours) for c in condition.any]
        tests = [p.test for p in parts]
        return CompiledCondition(lambda f: any(t(f) for t in tests), "any(" + "; ".join(p.description for p in parts) + ")")
    if condition.all is not None:
        parts = [compile_condition(c, opening_hours) for c in condition.all]
        tests = [p.test for p in parts]
        return CompiledCondition(lambda f: all(t(f) for t in tests), "all(" + "; ".join(p.description for p in parts) + ")")
    if condition.not_ is not None:
        inner = compile_condition(condition.not_, opening_hours)
        test = inner.test
        return CompiledCondition(lambda f: not test(f), f"not({inner.description})")
    if condition.time is not None:
        return _time_condition(condition)
    if condition.open is not None:
        return _open_condition(condition.open, opening_hours)
    getter, name = _getter(condition)
    compare, text = compile_compare(condition)
    return CompiledCondition(lambda f: compare(getter(f)), f"{name} {text}")


def _getter(condition: Condition) -> tuple[Callable[[Facts], Any], str]:
    if condition.event is not None:
        attr = condition.event
        return (lambda f: f.event_value(attr)), f"event.{attr}"
    if condition.profile is not None:
        key = condition.profile
        return (lambda f: f.profile.get(key, MISSING)), f"profile.{key}"
    if condition.slot is not None:
        slot = condition.slot
        return (lambda f: f.slots.get(slot, MISSING)), f"slot.{slot}"
    window = condition.window or 0.0
    counter = condition.counter
    if counter == "dwell":
        return (lambda f: f.counters.dwell(f.site, f.device, f.zones, f.now)), "counter.dwell"
    if counter == "footfall":
        return (lambda f: f.counters.footfall_in(f.site, f.zones, window, f.now)), f"counter.footfall[{window:g}s]"
    if counter == "visits":
        return (lambda f: f.counters.visits_in(f.customer_id, window, f.now) if f.customer_id else 0), f"counter.visits[{window:g}s]"
    # How often this rule fired for the same scope (customer, device, ...) within the window.
    return (lambda f: f.limits.fired_in(f.rule_id, f.scope, window, f.now)), f"counter.fired[{window:g}s]"


def compile_compare(compare: Compare) -> tuple[Callable[[Any], bool], str]:
    """All given comparisons must hold; a missing value fails every one except `exists: false`."""
    checks: list[Callable[[Any], bool]] = []
    words: list[str] = []
    if "equals" in compare.model_fields_set:
        expected = compare.equals
        checks.append(lambda v: v == expected)
        words.append(f"equals {expected!r}")
    if compare.not_equals is not None:
        other = compare.not_equals
        checks.append(lambda v: v is not MISSING and v != other)
        words.append(f"not_equals {other!r}")
    for field, op, text in (
        ("above", float.__gt__, "above"),
        ("below", float.__lt__, "below"),
        ("at_least", float.__ge__, "at_least"),
        ("at_most", float.__le__, "at_most"),
    ):
        limit = getattr(compare, field)
        if limit is not None:
            checks.append(_numeric(op, float(limit)))
            words.append(f"{text} {limit:g}")
    if compare.in_ is not None:
        allowed = list(compare.in_)
        checks.append(lambda v: v is not MISSING and not isinstance(v, list | dict) and v in allowed)
        words.append(f"in {allowed!r}")
    if compare.contains is not None:
        needle = compare.contains
        checks.append(lambda v: isinstance(v, list | str | dict) and needle in v)  # type: ignore[operator]
        words.append(f"contains {needle!r}")
    if compare.exists is not None:
        want = compare.exists
        checks.append(lambda v: (v is not MISSING and v is not None) == want)
        words.append("exists" if want else "does not exist")
    if len(checks) == 1:
        return checks[0], words[0]
    return (lambda v: all(c(v) for c in checks)), " and ".join(words)


def _numeric(op: Callable[[float, float], bool], limit: float) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return op(float(value), limit)

    return check


def _time_condition(condition: Condition) -> CompiledCondition:
    window = condition.time
    assert window is not None
    days = weekday_index(window.weekdays)
    start, end = window.after, window.before

    def test(f: Facts) -> bool:
        weekday, minute = f.clock.at(f.now)
        return (days is None or weekday in days) and in_window(minute, start, end)

    parts = []
    if start is not None:
        parts.append(f"after {start // 60:02d}:{start % 60:02d}")
    if end is not None:
        parts.append(f"before {end // 60:02d}:{end % 60:02d}")
    if window.weekdays:
        parts.append("on " + ",".join(window.weekdays))
    return CompiledCondition(test, "time " + " ".join(parts or ["any"]))


def _open_condition(want_open: bool, hours: OpeningHours) -> CompiledCondition:
    def test(f: Facts) -> bool:
        weekday, minute = f.clock.at(f.now)
        is_open = any(start <= minute < end for start, end in hours.get(weekday, ()))
        return is_open == want_open

    return CompiledCondition(test, "shop is open" if want_open else "shop is closed")
