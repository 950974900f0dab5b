"""The rule language: what a `rules/*.yaml` file may say, as pydantic models. Pure, no I/O.

A rule is `trigger` → `conditions` → `actions`, in the spirit of Home Assistant automations:

    - id: coffee-offer
      purpose: personalisation        # uses personal data: runs only with this consent
      customer: present               # the customer identified in the event's zone
      trigger: {kind: occupancy, zone: coffee_shelf, attributes: {occupancy: true}, for: 30s}
      conditions:
        - {profile: segments, contains: coffee_lover}
      actions:
        - say: {text: "Fancy a flat white, {{ profile.first_name }}?"}
      limits: {caps: [{max: 1, per: visit}], cooldown: 1h}
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

from gateway.model.event import AttributeValue, Purpose

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, None: 1.0}
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_duration(value: object) -> float:
    """`30s`, `10m`, `2h`, `1d`, `1w` or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like 30s, 10m, 2h, 1d")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (found := _DURATION.match(value)):
        seconds = float(found.group(1)) * _UNIT_S[found.group(2)]
    else:
        raise ValueError(f"not a duration: {value!r} (write e.g. 30s, 10m, 2h, 1d)")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def parse_clock(value: object) -> int:
    """`HH:MM` → minutes after midnight."""
    if not isinstance(value, str) or not (found := _CLOCK.match(value.strip())):
        raise ValueError(f"not a time of day: {value!r} (write HH:MM, e.g. 08:30)")
    return int(found.group(1)) * 60 + int(found.group(2))


Duration = Annotated[float, BeforeValidator(parse_duration)]
Clock = Annotated[int, BeforeValidator(parse_clock)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
RuleId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,100}$")]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,100}$")]
Template = Annotated[str, StringConstraints(max_length=4000)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Trigger(Model):
    """What starts a rule: an event of `kind` (optionally filtered), or a recognised voice intent.
    `site`/`device` are shell-style globs, `topic` an MQTT filter, `attributes` exact values.
    With `for`, the rule runs once the trigger has held that long (no newer event of the same
    device that stops matching), like Home Assistant's `for:`."""

    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]*$")] | None = None
    intent: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    site: str | None = None
    device: str | None = None
    zone: Name | None = None
    topic: str | None = None
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)
    slots: dict[str, AttributeValue] = Field(default_factory=dict)
    for_: Duration | None = Field(None, alias="for")
    # A zone figure of the analytics part (docs/analytics.md): holds while above/below the bounds.
    figure: FigureName | None = None
    above: float | None = None
    below: float | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Trigger:
        if sum(x is not None for x in (self.kind, self.intent, self.figure)) != 1:
            raise ValueError("a trigger needs exactly one of `kind` (an event kind), `intent` (a voice intent) or `figure` (a zone figure)")
        if self.figure is not None:
            if self.zone is None or (self.above is None and self.below is None):
                raise ValueError("a figure trigger needs a `zone` and `above` and/or `below`")
            if self.attributes or self.topic or self.device or self.slots:
                raise ValueError("a figure trigger takes only `zone`, `site`, `above`, `below` and `for`")
        elif self.above is not None or self.below is not None:
            raise ValueError("`above` and `below` belong to figure triggers")
        if self.intent is not None and (self.attributes or self.for_ is not None or self.topic or self.device):
            raise ValueError("an intent trigger takes only `site`, `zone` and `slots`")
        if self.kind is not None and self.slots:
            raise ValueError("`slots` belongs to intent triggers")
        return self


# The zone figures of gateway/analytics (core.FIGURES); a figure trigger is the event kind
# `figure.<name>` the analytics part hands to the rules with the zone and the value.
FigureName = Literal["occupancy", "queue_length", "wait_s", "dwell_s", "devices", "motion", "footfall_1h"]
FIGURE_KIND_PREFIX = "figure."


def trigger_kind(trigger: Trigger) -> str | None:
    """The event kind a trigger listens to (a figure trigger's is `figure.<name>`)."""
    return FIGURE_KIND_PREFIX + trigger.figure if trigger.figure is not None else trigger.kind


class Compare(Model):
    """Comparisons shared by every condition; all that are given must hold."""

    equals: AttributeValue | list[Any] | None = None
    not_equals: AttributeValue | None = None
    above: float | None = None
    below: float | None = None
    at_least: float | None = None
    at_most: float | None = None
    in_: list[AttributeValue] | None = Field(None, alias="in")
    contains: AttributeValue | None = None
    exists: bool | None = None

    def has_comparison(self) -> bool:
        return any(getattr(self, name) is not None for name in _COMPARISONS) or "equals" in self.model_fields_set


_COMPARISONS = ("not_equals", "above", "below", "at_least", "at_most", "in_", "contains", "exists")


class TimeWindow(Model):
    """Local time of day (a window may wrap past midnight) and/or weekdays."""

    after: Clock | None = None
    before: Clock | None = None
    weekdays: list[Weekday] | None = None


CounterName = Literal["visits", "dwell", "footfall", "fired"]


class Condition(Compare):
    """Exactly one of: `event` (attribute, or site/device/kind/zone), `profile` (local profile
    attribute), `counter` (windowed count), `time`, `open` (opening hours), `slot` (intent slot),
    `any` / `all` / `not` (combinations)."""

    event: str | None = None
    profile: str | None = None
    slot: str | None = None
    counter: CounterName | None = None
    window: Duration | None = None
    time: TimeWindow | None = None
    open: bool | None = None
    any: list[Condition] | None = None
    all: list[Condition] | None = None
    not_: Condition | None = Field(None, alias="not")

    @model_validator(mode="after")
    def _one_selector(self) -> Condition:
        chosen = [name for name in _SELECTORS if getattr(self, name) is not None]
        if len(chosen) != 1:
            names = ", ".join(s.rstrip("_") for s in _SELECTORS)
            raise ValueError(f"a condition needs exactly one of {names}; got {chosen or 'none'}")
        needs_compare = chosen[0] in ("event", "profile", "slot", "counter")
        if needs_compare and not self.has_comparison():
            raise ValueError("say what to compare: equals, not_equals, above, below, at_least, at_most, in, contains, exists")
        if not needs_compare and self.has_comparison():
            raise ValueError(f"`{chosen[0].rstrip('_')}` takes no comparison")
        if self.window is not None and self.counter not in ("visits", "footfall", "fired"):
            raise ValueError("`window` applies to the visits, footfall and fired counters")
        if self.counter in ("visits", "footfall", "fired") and self.window is None:
            raise ValueError(f"the {self.counter} counter needs a `window` (e.g. 7d)")
        return self

    @property
    def personal(self) -> bool:
        """Does this condition read personal data?"""
        if self.profile is not None or self.counter == "visits":
            return True
        children = (self.any or []) + (self.all or []) + ([self.not_] if self.not_ else [])
        return any(child.personal for child in children)


_SELECTORS = ("event", "profile", "slot", "counter", "time", "open", "any", "all", "not_")


class SayAction(Model):
    text: Template
    lang: str | None = None
    site: Template | None = None


class DisplayAction(Model):
    display: Name
    content: Template | dict[str, Any]


class PublishAction(Model):
    topic: Template
    payload: Template | dict[str, Any] | list[Any] = ""
    qos: Literal[0, 1] = 1
    retain: bool = False


class NotifyStaffAction(Model):
    message: Template
    level: Literal["info", "warning", "urgent"] = "info"


class AwardPointsAction(Model):
    points: int = Field(ge=-100_000, le=100_000)
    reason: str = ""


class AwardBadgeAction(Model):
    badge: Name


class SetAttributeAction(Model):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
    value: AttributeValue
    # A string value is a template unless `literal` is set.
    literal: bool = False


class EmitEventAction(Model):
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]*$", max_length=64)]
    purpose: Purpose
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)


class Action(Model):
    """Exactly one action per list item."""

    say: SayAction | None = None
    display: DisplayAction | None = None
    publish: PublishAction | None = None
    notify_staff: NotifyStaffAction | None = None
    award_points: AwardPointsAction | None = None
    award_badge: AwardBadgeAction | None = None
    set_attribute: SetAttributeAction | None = None
    emit_event: EmitEventAction | None = None
    delay: Duration | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Action:
        chosen = [name for name in ACTION_TYPES if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise ValueError(f"an action needs exactly one of {', '.join(ACTION_TYPES)}; got {chosen or 'none'}")
        return self

    @property
    def type(self) -> str:
        return next(name for name in ACTION_TYPES if getattr(self, name) is not None)

    @property
    def body(self) -> Any:
        return getattr(self, self.type)

    @property
    def personal(self) -> bool:
        return self.type in ("award_points", "award_badge", "set_attribute")


ACTION_TYPES = ("say", "display", "publish", "notify_staff", "award_points", "award_badge", "set_attribute", "emit_event", "delay")


class Cap(Model):
    """At most `max` firings per `per`: `visit` (the customer's current visit) or a window (1d)."""

    max: int = Field(ge=1, le=1_000_000)
    per: Literal["visit"] | Duration


class Limits(Model):
    """Who a cap counts for (`scope`; default: the customer for personal rules, else the device),
    the caps themselves and a cooldown between firings."""

    scope: Literal["customer", "site", "device", "zone", "rule"] | None = None
    caps: list[Cap] = Field(default_factory=list)
    cooldown: Duration | None = None


class QuietHours(Model):
    start: Clock = Field(alias="from")
    end: Clock = Field(alias="to")
    weekdays: list[Weekday] | None = None


class Rule(Model):
    id: RuleId
    description: str = ""
    enabled: bool = True
    # The consent purpose a rule that uses personal data needs; None for an anonymous rule.
    purpose: Purpose | None = None
    # Whose data: the event's customer, or the customer identified in the event's zone/site lately.
    customer: Literal["event", "present"] = "event"
    trigger: Trigger
    conditions: list[Condition] = Field(default_factory=list)
    actions: list[Action] = Field(min_length=1)
    priority: int = 0
    # Of the rules of one group triggered by the same event, only the first (by priority) that
    # passes runs: a personal rule first and an anonymous one as its fallback.
    group: Name | None = None
    limits: Limits = Limits()
    quiet_hours: list[QuietHours] = Field(default_factory=list)
    mode: Literal["single", "queued"] = "single"
    max_queued: int = Field(10, ge=1, le=1000)
