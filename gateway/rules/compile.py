"""A validated `Rule` turned into what the engine runs: predicates, action functions, filters. Pure.

This is also where the consent rule of the language is enforced: a rule that reads or writes
personal data (profile conditions, visits, templates naming the profile or customer, loyalty
actions, per-customer caps) must declare the consent `purpose` it needs.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.rules.actions import ActionFn, Topics, compile_action
from gateway.rules.conditions import CompiledCondition, OpeningHours, compile_condition
from gateway.rules.limits import CompiledLimits
from gateway.rules.model import Rule
from gateway.rules.templates import PERSONAL_NAMES, TemplateProblem


_MISSING = object()


class RuleProblem(ValueError):
    """A rule that validates field by field but cannot run; `loc` points into the rule."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        self.loc, self.message = loc, message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    # The hot path reads these plain fields rather than walking the pydantic model.
    id: str
    purpose: str | None
    customer_present: bool
    group: str | None
    single: bool
    hold: float | None
    rule: Rule
    personal: bool
    conditions: tuple[CompiledCondition, ...]
    actions: tuple[ActionFn, ...]
    has_delay: bool
    limits: CompiledLimits
    scope_kind: str
    site: re.Pattern[str] | None
    device: re.Pattern[str] | None
    topic: re.Pattern[str] | None
    attributes: tuple[tuple[str, object], ...]
    slots: tuple[tuple[str, object], ...]
    # A figure trigger's bounds on the event's `value` (checked like trigger attributes).
    above: float | None = None
    below: float | None = None

    def mismatch(self, attributes: Mapping[str, object]) -> tuple[str, object] | None:
        """The first trigger attribute the event does not have, with the value wanted."""
        for name, wanted in self.attributes:
            if attributes.get(name, _MISSING) != wanted:
                return name, wanted
        if self.above is not None or self.below is not None:
            value = attributes.get("value")
            if not isinstance(value, int | float) or isinstance(value, bool):
                return "value", "a number"
            if self.above is not None and not value > self.above:
                return "value", f"above {self.above:g}"
            if self.below is not None and not value < self.below:
                return "value", f"below {self.below:g}"
        return None

    def static_match(self, site: str, device: str, topic: str, zones: tuple[str, ...]) -> bool:
        """The part of the trigger that depends only on where the event came from (memoised)."""
        trigger = self.rule.trigger
        if self.site is not None and not self.site.match(site):
            return False
        if self.device is not None and not self.device.match(device):
            return False
        if trigger.zone is not None and trigger.zone not in zones:
            return False
        return self.topic is None or bool(self.topic.match(topic))


def compile_rule(rule: Rule, topics: Topics, opening_hours: OpeningHours) -> CompiledRule:
    conditions = [compile_condition(condition, opening_hours) for condition in rule.conditions]
    actions: list[ActionFn] = []
    # Where the rule first touches personal data, to point the "declare a purpose" error there.
    personal_at: tuple[tuple[str | int, ...], str] | None = None
    if rule.customer == "present":
        personal_at = (("customer",), "customer: present")
    for index, condition in enumerate(rule.conditions):
        if personal_at is None and condition.personal:
            personal_at = (("conditions", index), f"condition {index + 1} reads the profile or visits")
    for index, action in enumerate(rule.actions):
        try:
            fn, names = compile_action(action, topics)
        except TemplateProblem as exc:
            raise RuleProblem(("actions", index, action.type), str(exc)) from exc
        actions.append(fn)
        if personal_at is None and (action.personal or names & PERSONAL_NAMES):
            personal_at = (("actions", index, action.type), f"action {index + 1} ({action.type})")
    limits = rule.limits
    if personal_at is None and (limits.scope == "customer" or any(c.per == "visit" for c in limits.caps)):
        personal_at = (("limits",), "per-customer or per-visit caps")
    if personal_at is not None and rule.purpose is None:
        loc, why = personal_at
        raise RuleProblem(loc, f"this rule uses personal data ({why}): declare the consent `purpose` it needs (e.g. personalisation)")
    scope_kind = limits.scope or ("customer" if rule.purpose is not None else "device")
    fired_windows = [c.window or 0.0 for c in _walk(rule.conditions) if c.counter == "fired"]
    trigger = rule.trigger
    return CompiledRule(
        id=rule.id,
        purpose=rule.purpose,
        customer_present=rule.customer == "present",
        group=rule.group,
        single=rule.mode == "single",
        hold=rule.trigger.for_,
        rule=rule,
        personal=rule.purpose is not None,
        conditions=tuple(conditions),
        actions=tuple(actions),
        has_delay=any(a.type == "delay" for a in rule.actions),
        limits=CompiledLimits(limits, rule.quiet_hours, max(fired_windows, default=0.0)),
        scope_kind=scope_kind,
        site=_glob(trigger.site),
        device=_glob(trigger.device),
        topic=_mqtt_filter(trigger.topic),
        # A figure trigger's bounds make it "have attributes" so the engine checks them first.
        attributes=tuple(trigger.attributes.items()) or (() if trigger.figure is None else (("figure", trigger.figure),)),
        slots=tuple(trigger.slots.items()),
        above=trigger.above,
        below=trigger.below,
    )


def _walk(conditions: list) -> list:  # type: ignore[type-arg]
    out = []
    for c in conditions:
        out.append(c)
        out.extend(_walk((c.any or []) + (c.all or []) + ([c.not_] if c.not_ else [])))
    return out


def _glob(pattern: str | None) -> re.Pattern[str] | None:
    return None if pattern is None else re.compile(fnmatch.translate(pattern))


def _mqtt_filter(subscription: str | None) -> re.Pattern[str] | None:
    """An MQTT subscription (`+`, `#`) as a regex over topics."""
    if subscription is None:
        return None
    parts = []
    levels = subscription.split("/")
    for index, level in enumerate(levels):
        if level == "#" and index == len(levels) - 1:
            parts.append(".*")
        elif level == "+":
            parts.append("[^/]*")
        else:
            parts.append(re.escape(level))
    pattern = "/".join(parts)
    if pattern.endswith("/.*"):
        pattern = pattern[:-3] + "(/.*)?"
    return re.compile(pattern + r"\Z")
