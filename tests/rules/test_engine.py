"""Caps, cooldowns, quiet hours, groups, consent, presence, `for:` triggers and action outputs."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.model.event import with_changes
from gateway.rules.actions import Delay, Emit, ProfileWrite, Publish
from tests.rules.support import T0, engine_for, event, fired, reasons


def test_cooldown_and_window_caps(tmp_path: Path) -> None:
    rules = """
    - id: r
      trigger: {kind: occupancy}
      actions: [{say: {text: hi}}]
      limits: {cooldown: 5m, caps: [{max: 2, per: 1h}]}
    """
    engine, _ = engine_for(tmp_path, rules)
    assert fired(engine.process(event(at=T0))) == ["r"]
    assert reasons(engine.process(event(at=T0 + 60)))["r"] == "cooldown: 240s left"
    assert fired(engine.process(event(at=T0 + 301))) == ["r"]
    assert reasons(engine.process(event(at=T0 + 900)))["r"] == "cap: fired 2 time(s) in 1h (max 2)"
    assert fired(engine.process(event(at=T0 + 3601))) == ["r"]
    # The scope is the device by default: another device has its own count.
    assert fired(engine.process(event(at=T0 + 3602, device="d2"))) == ["r"]


def test_once_per_visit(tmp_path: Path) -> None:
    rules = """
    - id: hello
      purpose: personalisation
      trigger: {kind: identify}
      actions: [{say: {text: "hello {{ customer_id }}"}}]
      limits: {caps: [{max: 1, per: visit}]}
    """
    engine, consents = engine_for(tmp_path, rules, visit_gap_s=3600)
    consents.granted.add(("c1", "personalisation"))
    assert fired(engine.process(event("identify", customer="c1"))) == ["hello"]
    assert reasons(engine.process(event("identify", at=T0 + 600, customer="c1")))["hello"] == "cap: fired 1 time(s) this visit (max 1)"
    assert fired(engine.process(event("identify", at=T0 + 7200, customer="c1"))) == ["hello"]  # a new visit


def test_quiet_hours(tmp_path: Path) -> None:
    rules = """
    - id: r
      trigger: {kind: occupancy}
      actions: [{say: {text: hi}}]
      quiet_hours: [{from: "21:00", to: "08:00"}, {from: "09:30", to: "10:30", weekdays: [sun]}]
    """
    engine, _ = engine_for(tmp_path, rules)
    assert fired(engine.process(event(at=T0))) == ["r"]  # Saturday 10:00
    assert reasons(engine.process(event(at=T0 + 12 * 3600)))["r"] == "quiet hours"  # 22:00
    assert reasons(engine.process(event(at=T0 + 20 * 3600)))["r"] == "quiet hours"  # Sunday 06:00
    assert reasons(engine.process(event(at=T0 + 86400)))["r"] == "quiet hours"  # Sunday 10:00
    assert fired(engine.process(event(at=T0 + 86400 + 3 * 3600))) == ["r"]


def test_consent_refusal_and_anonymous_fallback(tmp_path: Path) -> None:
    rules = """
    - id: personal
      purpose: personalisation
      trigger: {kind: identify}
      priority: 5
      group: hello
      actions: [{say: {text: "Hello {{ profile.first_name }}"}}]
    - id: anonymous
      trigger: {kind: identify}
      group: hello
      actions: [{say: {text: "Hello"}}]
    """
    engine, consents = engine_for(tmp_path, rules)
    engine.profiles.put("c1", {"first_name": "Ann"}, {}, T0)
    engine.profiles.put("c2", {"first_name": "Bob"}, {}, T0)
    consents.granted.add(("c1", "personalisation"))
    with_consent = engine.process(event("identify", customer="c1"))
    assert fired(with_consent) == ["personal"]
    assert json.loads(with_consent[0].outputs[0].payload)["text"] == "Hello Ann"  # type: ignore[union-attr]
    assert reasons(with_consent)["anonymous"] == "group hello already handled by personal"
    without = engine.process(event("identify", customer="c2"))
    assert reasons(without)["personal"] == "no consent for personalisation"
    assert without[0].customer_id == "c2"
    assert fired(without) == ["anonymous"]
    text = json.loads(without[1].outputs[0].payload)["text"]  # type: ignore[union-attr]
    assert "Bob" not in text
    # The gate strips the customer of an event without consent: the personal rule has no one.
    stripped = engine.process(event("identify"))
    assert reasons(stripped)["personal"] == "no customer: the event is anonymous"
    assert fired(stripped) == ["anonymous"]


def test_withdrawn_consent_stops_a_personal_rule(tmp_path: Path) -> None:
    rules = """
    - id: p
      purpose: marketing
      trigger: {kind: identify}
      actions: [{say: {text: offer}}]
    """
    engine, consents = engine_for(tmp_path, rules)
    consents.granted.add(("c1", "marketing"))
    assert fired(engine.process(event("identify", customer="c1"))) == ["p"]
    consents.granted.clear()
    assert reasons(engine.process(event("identify", at=T0 + 1, customer="c1")))["p"] == "no consent for marketing"


def test_present_customer_and_for_trigger(tmp_path: Path) -> None:
    rules = """
    zones: {coffee: ["coffee", "shop1/coffee-*"]}
    rules:
      - id: offer
        purpose: personalisation
        customer: present
        trigger: {kind: occupancy, zone: coffee, attributes: {occupancy: true}, for: 30s}
        actions: [{say: {text: "coffee for {{ profile.first_name }}", site: coffee}}]
    """
    engine, consents = engine_for(tmp_path, rules, presence_ttl_s=600)
    consents.granted.add(("c1", "personalisation"))
    engine.profiles.put("c1", {"first_name": "Ann"}, {}, T0)
    engine.process(event("identify", site="coffee", device="reader", customer="c1"))
    engine.process(event(at=T0 + 10, device="coffee-shelf", occupancy=True))
    assert engine.advance(T0 + 39) == []
    # The occupancy stopped before 30 s: no firing, timer cancelled
    engine.process(event(at=T0 + 35, device="coffee-shelf", occupancy=False))
    assert engine.advance(T0 + 100) == []
    engine.process(event(at=T0 + 110, device="coffee-shelf", occupancy=True))
    decisions = engine.advance(T0 + 140)
    assert fired(decisions) == ["offer"]
    say = decisions[0].outputs[0]
    assert isinstance(say, Publish) and json.loads(say.payload)["siteId"] == "coffee"
    assert json.loads(say.payload)["text"] == "coffee for Ann"
    assert decisions[0].at == T0 + 140
    # Still occupied: a `for:` trigger fires once per stretch
    engine.process(event(at=T0 + 150, device="coffee-shelf", occupancy=True))
    assert engine.advance(T0 + 400) == []
    # After the presence binding expires there is no one to offer coffee to.
    engine.process(event(at=T0 + 700, device="coffee-shelf", occupancy=False))
    engine.process(event(at=T0 + 701, device="coffee-shelf", occupancy=True))
    assert reasons(engine.advance(T0 + 740))["offer"] == "no customer: the event is anonymous"


def test_priority_orders_evaluation(tmp_path: Path) -> None:
    rules = """
    - {id: low, trigger: {kind: occupancy}, priority: 1, actions: [{say: {text: low}}]}
    - {id: high, trigger: {kind: occupancy}, priority: 9, actions: [{say: {text: high}}]}
    - {id: other-device, trigger: {kind: occupancy, device: "x-*"}, actions: [{say: {text: x}}]}
    - {id: topic, trigger: {kind: occupancy, topic: "zigbee2mqtt/+/d1"}, actions: [{say: {text: t}}]}
    """
    engine, _ = engine_for(tmp_path, rules)
    decisions = engine.process(with_changes(event(), topic="zigbee2mqtt/shop1/d1"))
    assert fired(decisions) == ["high", "low", "topic"]


def test_every_action_output(tmp_path: Path) -> None:
    rules = """
    - id: all
      purpose: personalisation
      trigger: {kind: identify}
      actions:
        - say: {text: "Hi {{ profile.first_name }}", lang: de}
        - display: {display: door, content: "Welcome {{ profile.first_name }}"}
        - publish: {topic: "lights/{{ event.site }}/set", payload: {state: "ON", by: "{{ rule.id }}"}, qos: 0, retain: true}
        - notify_staff: {message: "{{ profile.loyalty_tier }} member at {{ event.site }}", level: urgent}
        - award_points: {points: 15}
        - award_badge: {badge: early-bird}
        - set_attribute: {name: last_greeted_site, value: "{{ event.site }}"}
        - delay: 2s
        - emit_event: {kind: greeted, purpose: personalisation, attributes: {site: "{{ event.site }}"}}
    """
    engine, consents = engine_for(tmp_path, rules)
    consents.granted.add(("c1", "personalisation"))
    engine.profiles.put("c1", {"first_name": "Ann", "loyalty_tier": "gold", "loyalty_points": 10}, {}, T0)
    (decision,) = engine.process(event("identify", site="door", customer="c1"))
    say, display, publish, staff, points, badge, attribute, delay, emit = decision.outputs
    assert isinstance(say, Publish) and say.topic == "hermes/tts/say"
    body = json.loads(say.payload)
    assert (body["text"], body["siteId"], body["lang"]) == ("Hi Ann", "door", "de") and body["id"]
    assert isinstance(display, Publish) and display.topic == "touchgate/door/display/door"
    assert json.loads(display.payload) == {"text": "Welcome Ann", "rule": "all"}
    assert publish == Publish("lights/door/set", b'{"state":"ON","by":"all"}', 0, True)
    assert isinstance(staff, Publish) and staff.topic == "touchgate/door/staff"
    assert json.loads(staff.payload)["message"] == "gold member at door"
    assert json.loads(staff.payload)["level"] == "urgent"
    assert isinstance(points, ProfileWrite) and points.local["loyalty_points"] == 25
    assert isinstance(badge, ProfileWrite) and badge.local["badges"] == ["early-bird"]
    assert isinstance(attribute, ProfileWrite) and attribute.local["last_greeted_site"] == "door"
    assert delay == Delay(2.0)
    assert isinstance(emit, Emit) and emit.event.kind == "greeted" and emit.event.customer_id == "c1"
    assert emit.event.attributes == {"site": "door"}
    assert engine.profiles.get("c1")["loyalty_points"] == 25  # type: ignore[index]
    # The identify also counted a visit (the customer consents to personalisation).
    assert engine.profiles.take_dirty() == [
        ("c1", {"visit_count": 1, "last_visit_at": T0, "loyalty_points": 25, "badges": ["early-bird"], "last_greeted_site": "door"})
    ]


def test_anonymous_rule_never_sees_the_customer(tmp_path: Path) -> None:
    rules = """
    - id: anon
      trigger: {kind: identify}
      actions: [{emit_event: {kind: greeted, purpose: analytics}}]
    """
    engine, consents = engine_for(tmp_path, rules)
    consents.granted.add(("c1", "analytics"))
    (decision,) = engine.process(event("identify", customer="c1"))
    assert decision.customer_id is None
    (emit,) = decision.outputs
    assert isinstance(emit, Emit) and emit.event.customer_id is None
