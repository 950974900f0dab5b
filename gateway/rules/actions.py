"""Actions compiled into functions that turn a firing into concrete outputs. Pure.

Outputs are data (`Publish`, `ProfileWrite`, `Emit`, `Delay`); the runner performs them over
MQTT and SQLite. Local profile changes are applied to the in-memory cache at once, so the next
event already sees the points or the badge.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.model.event import Event
from gateway.rules.facts import Facts
from gateway.rules.model import Action
from gateway.rules.profiles import ProfileCache
from gateway.rules.templates import Structure, Text

# The device of an event a rule emits: "rule:<rule id>".
EMITTED_DEVICE_PREFIX = "rule:"


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


@dataclass(frozen=True, slots=True)
class ProfileWrite:
    customer_id: str
    local: dict[str, Any]  # the customer's whole local attribute set after the change


@dataclass(frozen=True, slots=True)
class Emit:
    event: Event


@dataclass(frozen=True, slots=True)
class Delay:
    seconds: float


Output = Publish | ProfileWrite | Emit | Delay


@dataclass(frozen=True, slots=True)
class Topics:
    say: str = "hermes/tts/say"
    display: str = "touchgate/{site}/display/{display}"
    staff: str = "touchgate/{site}/staff"
    lang: str = "en"


class Firing:
    """What one action function gets: the facts, the lazily built template context, the cache."""

    __slots__ = ("facts", "rule_id", "profiles", "_context")

    def __init__(self, facts: Facts, rule_id: str, profiles: ProfileCache) -> None:
        self.facts = facts
        self.rule_id = rule_id
        self.profiles = profiles
        self._context: dict[str, Any] | None = None

    @property
    def context(self) -> dict[str, Any]:
        if self._context is None:
            self._context = self.facts.template_context(self.rule_id)
        return self._context

    def profile_changed(self, changes: dict[str, Any]) -> ProfileWrite:
        customer = self.facts.customer_id
        assert customer is not None, "personal actions only run with a customer (checked at load)"
        local = self.profiles.update_local(customer, changes)
        self._context = None  # later templates see the change
        return ProfileWrite(customer, local)


ActionFn = Callable[[Firing], Output]


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def compile_action(action: Action, topics: Topics) -> tuple[ActionFn, frozenset[str]]:
    """The action's function and the template names it reads (to spot personal data)."""
    kind, body = action.type, action.body
    if kind == "say":
        text, site = Text(body.text), Text(body.site) if body.site else None
        lang = body.lang or topics.lang

        def say(f: Firing) -> Output:
            site_id = site.render(f.context) if site else f.facts.site
            payload = {"text": text.render(f.context), "siteId": site_id, "lang": lang, "id": str(uuid.uuid4())}
            return Publish(topics.say, _json(payload))

        return say, text.names | (site.names if site else frozenset())
    if kind == "display":
        content = Structure(body.content)
        display = body.display

        def show(f: Firing) -> Output:
            rendered = content.render(f.context)
            payload = rendered if isinstance(rendered, dict) else {"text": rendered}
            return Publish(topics.display.format(site=f.facts.site, display=display), _json({**payload, "rule": f.rule_id}))

        return show, content.names
    if kind == "publish":
        topic, payload = Text(body.topic), Structure(body.payload)
        qos, retain = body.qos, body.retain

        def publish(f: Firing) -> Output:
            rendered = payload.render(f.context)
            data = rendered.encode() if isinstance(rendered, str) else _json(rendered)
            return Publish(topic.render(f.context), data, qos, retain)

        return publish, topic.names | payload.names
    if kind == "notify_staff":
        message, level = Text(body.message), body.level

        def notify(f: Firing) -> Output:
            facts = f.facts
            payload = {
                "rule": f.rule_id, "message": message.render(f.context), "level": level, "site": facts.site,
                "device": facts.device, "zones": list(facts.zones), "at": facts.now,
            }
            return Publish(topics.staff.format(site=facts.site), _json(payload))

        return notify, message.names
    if kind == "award_points":
        points = body.points

        def award_points(f: Firing) -> Output:
            current = f.facts.profile.get("loyalty_points", 0)
            base = current if isinstance(current, int) and not isinstance(current, bool) else 0
            return f.profile_changed({"loyalty_points": base + points})

        return award_points, frozenset({"profile"})
    if kind == "award_badge":
        badge = body.badge

        def award_badge(f: Firing) -> Output:
            badges = f.facts.profile.get("badges", [])
            have = list(badges) if isinstance(badges, list) else []
            return f.profile_changed({"badges": have if badge in have else [*have, badge]})

        return award_badge, frozenset({"profile"})
    if kind == "set_attribute":
        name = body.name
        value = Text(body.value) if isinstance(body.value, str) and not body.literal else None
        literal = body.value

        def set_attribute(f: Firing) -> Output:
            return f.profile_changed({name: value.render(f.context) if value is not None else literal})

        return set_attribute, frozenset({"profile"}) | (value.names if value else frozenset())
    if kind == "emit_event":
        attributes = Structure(body.attributes)
        event_kind, purpose = body.kind, body.purpose

        def emit(f: Firing) -> Output:
            facts = f.facts
            event = Event(
                received_at=facts.now, site=facts.site, device=f"{EMITTED_DEVICE_PREFIX}{f.rule_id}", kind=event_kind,
                purpose=purpose, customer_id=facts.customer_id, profile="rules", topic="",
                attributes=attributes.render(f.context),
            )
            return Emit(event)

        return emit, attributes.names
    seconds = float(action.delay or 0.0)
    return (lambda f: Delay(seconds)), frozenset()
