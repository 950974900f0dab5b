"""What a rule sees while it is evaluated: the trigger, the customer, the profile, the time. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.model.event import Event
from gateway.rules.clock import LocalClock
from gateway.rules.counters import Counters
from gateway.rules.limits import LimitBook


class Facts:
    """Built once per (trigger, rule) pair; cheap attribute access on the hot path."""

    __slots__ = (
        "event", "intent", "slots", "site", "device", "zones", "customer_id", "profile",
        "now", "clock", "counters", "limits", "rule_id", "scope",
    )

    def __init__(
        self,
        *,
        event: Event | None,
        intent: str | None,
        slots: Mapping[str, Any],
        site: str,
        device: str,
        zones: tuple[str, ...],
        customer_id: str | None,
        profile: Mapping[str, Any],
        now: float,
        clock: LocalClock,
        counters: Counters,
        limits: LimitBook,
        rule_id: str = "",
        scope: str = "",
    ) -> None:
        self.event = event
        self.intent = intent
        self.slots = slots
        self.site = site
        self.device = device
        self.zones = zones
        self.customer_id = customer_id
        self.profile = profile
        self.now = now
        self.clock = clock
        self.counters = counters
        self.limits = limits
        self.rule_id = rule_id
        self.scope = scope

    def event_value(self, name: str) -> Any:
        """An event attribute, or one of the event's own fields (site, device, kind, zone, purpose)."""
        if name == "site":
            return self.site
        if name == "device":
            return self.device
        if name == "zone":
            return list(self.zones)
        if self.event is None:
            return MISSING
        if name in ("kind", "purpose", "topic", "profile"):
            return getattr(self.event, name)
        return self.event.attributes.get(name, MISSING)

    def template_context(self, rule_id: str) -> dict[str, Any]:
        event = self.event
        return {
            "event": {
                "id": event.id, "kind": event.kind, "site": event.site, "device": event.device,
                "topic": event.topic, "purpose": event.purpose, "received_at": event.received_at,
                "attributes": dict(event.attributes),
            } if event is not None else {"site": self.site, "device": self.device, "attributes": {}},
            "profile": dict(self.profile),
            "customer_id": self.customer_id,
            "rule": {"id": rule_id},
            "zone": self.zones[0] if self.zones else "",
            "zones": list(self.zones),
            "slots": dict(self.slots),
            "intent": self.intent,
            "site": self.site,
            "now": self.now,
            "counters": _LazyCounters(self),
        }


class _LazyCounters(Mapping[str, Any]):
    """The counters a template may show, computed only when a template reads one."""

    _NAMES = ("dwell", "footfall_15m", "footfall_1h", "footfall_1d", "visits_7d", "visits_30d")

    def __init__(self, facts: Facts) -> None:
        self._facts = facts

    def __getitem__(self, name: str) -> Any:
        f = self._facts
        if name == "dwell":
            return round(f.counters.dwell(f.site, f.device, f.zones, f.now))
        windows = {"15m": 900.0, "1h": 3600.0, "1d": 86400.0, "7d": 604800.0, "30d": 2592000.0}
        kind, _, window = name.partition("_")
        if name not in self._NAMES:
            raise KeyError(name)
        if kind == "footfall":
            return f.counters.footfall_in(f.site, f.zones, windows[window], f.now)
        return f.counters.visits_in(f.customer_id, windows[window], f.now) if f.customer_id else 0

    def __iter__(self) -> Any:
        return iter(self._NAMES)

    def __len__(self) -> int:
        return len(self._NAMES)


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
