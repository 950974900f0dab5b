"""Every action type, consent refusal and auditing, through a real broker, SQLite and the real
consent ledger (consent is granted by a touchpoint message, as in the shop)."""

from __future__ import annotations

import json
from pathlib import Path

import sqlite_utils

from gateway.consent.audit_log import verify_audit
from gateway.store.database import connect
from gateway.store.profiles import profile_view
from tests.rules.live import card_tap, consent, live_settings, publish, seed_profiles, wait_for_payloads, payloads
from tests.rules.support import write_rules
from tests.support.clients import Collector, Publisher
from tests.support.gateway import running_gateway, wait_until
from tests.support.mosquitto import Mosquitto

RULES = """
- id: greet-member
  purpose: personalisation
  trigger: {kind: identify, site: door}
  priority: 10
  group: greet
  conditions: [{profile: loyalty_tier, exists: true}]
  actions:
    - say: {text: "Hello {{ profile.first_name }}"}
    - display: {display: door, content: {title: "Hi {{ profile.first_name }}", points: "{{ profile.loyalty_points }}"}}
    - publish: {topic: "lights/{{ event.site }}/set", payload: {state: "ON", rule: "{{ rule.id }}"}}
    - notify_staff: {message: "{{ profile.loyalty_tier }} member at the door"}
    - award_points: {points: 15}
    - award_badge: {badge: early-bird}
    - set_attribute: {name: last_site, value: "{{ event.site }}"}
    - emit_event: {kind: greeted, purpose: personalisation, attributes: {site: "{{ event.site }}"}}
- id: greet-anyone
  trigger: {kind: identify, site: door}
  group: greet
  actions:
    - display: {display: door, content: {title: "Hello!"}}
"""


async def test_every_action_over_mqtt_and_sqlite(broker: Mosquitto, tmp_path: Path) -> None:
    write_rules(tmp_path / "rules", RULES)
    settings = live_settings(broker, tmp_path)
    seed_profiles(settings, {"card:AA11": {"first_name": "Ann", "loyalty_tier": "gold", "loyalty_points": 100}})
    collector = Collector(broker.host, broker.port, ["hermes/tts/say", "touchgate/+/display/#", "touchgate/+/staff", "lights/#"])
    try:
        async with running_gateway(settings) as runtime:
            assert runtime.service("rules") is not None and runtime.service("consent") is not None
            with Publisher(broker.host, broker.port) as pub:
                await publish(pub, consent("card:AA11", "service", "personalisation"))
                await wait_until(lambda: runtime.service("consent").allows("card:AA11", "personalisation"))  # type: ignore[union-attr]
                await publish(pub, card_tap("door", "AA11"))
                (say,) = await wait_for_payloads(collector, "hermes/tts/say")
                (display,) = await wait_for_payloads(collector, "touchgate/door/display/door")
                (light,) = await wait_for_payloads(collector, "lights/door/set")
                (staff,) = await wait_for_payloads(collector, "touchgate/door/staff")
            await wait_until(lambda: any(d.rule_id == "greet-member" for d in runtime.service("rules").recent))  # type: ignore[union-attr]
            await runtime.service("rules").drain()
    finally:
        collector.close()
    assert say["text"] == "Hello Ann" and say["siteId"] == "door" and say["lang"] == "en" and say["id"]
    assert display == {"title": "Hi Ann", "points": "100", "rule": "greet-member"}
    assert light == {"state": "ON", "rule": "greet-member"}
    assert staff["message"] == "gold member at the door" and staff["rule"] == "greet-member"
    assert payloads(collector, "touchgate/door/display/door") == [display]  # the fallback did not run
    db = connect(settings.store.path)
    profile = profile_view(db, "card:AA11")
    assert profile["loyalty_points"] == 115 and profile["badges"] == ["early-bird"] and profile["last_site"] == "door"
    assert profile["visit_count"] == 1
    emitted = list(db.query("SELECT * FROM events WHERE kind = 'greeted'"))
    assert len(emitted) == 1 and emitted[0]["customer_id"] == "card:AA11"
    assert db["outbox"].count_where("event_id = ?", [emitted[0]["id"]]) == 1  # consented: may leave
    audit = [json.loads(r["detail"]) for r in db.query("SELECT detail FROM audit WHERE kind = 'rules.decision'")]
    assert [(a["rule"], a["outcome"]) for a in audit] == [("greet-member", "fired")]
    assert "card:AA11" not in json.dumps(audit)  # pseudonymised
    assert verify_audit(db).ok
    stats = {(r["rule_id"], r["outcome"]): r["count"] for r in db.query("SELECT * FROM rule_stats")}
    assert stats[("greet-member", "fired")] == 1 and stats[("greet-anyone", "group")] == 1


async def test_consent_refusal(broker: Mosquitto, tmp_path: Path) -> None:
    write_rules(tmp_path / "rules", RULES)
    settings = live_settings(broker, tmp_path)
    seed_profiles(settings, {"card:BB22": {"first_name": "Bob", "loyalty_tier": "silver"}})
    collector = Collector(broker.host, broker.port, ["hermes/tts/say", "touchgate/+/display/#", "lights/#"])
    try:
        async with running_gateway(settings) as runtime:
            rules = runtime.service("rules")
            assert rules is not None
            with Publisher(broker.host, broker.port) as pub:
                # Bob lets the shop serve him, but not personalise.
                await publish(pub, consent("card:BB22", "service"))
                await wait_until(lambda: runtime.service("consent").allows("card:BB22", "service"))  # type: ignore[union-attr]
                await publish(pub, card_tap("door", "BB22"))
                (display,) = await wait_for_payloads(collector, "touchgate/door/display/door")
                # A card nobody consented for: the gate strips the id, only the anonymous rule has it.
                await publish(pub, card_tap("door", "CC33"))
                await wait_for_payloads(collector, "touchgate/door/display/door", 2)
            await wait_until(lambda: len(rules.recent) >= 4)
            await rules.drain()
    finally:
        collector.close()
    assert display == {"title": "Hello!", "rule": "greet-anyone"}
    assert payloads(collector, "hermes/tts/say") == [] and payloads(collector, "lights/#") == []
    outcomes = [(d.rule_id, d.reason) for d in rules.recent]
    assert outcomes == [
        ("greet-member", "no consent for personalisation"), ("greet-anyone", "fired"),
        ("greet-member", "no customer: the event is anonymous"), ("greet-anyone", "fired"),
    ]
    db = sqlite_utils.Database(settings.store.path)
    audit = [json.loads(r["detail"]) for r in db.query("SELECT detail FROM audit WHERE kind = 'rules.decision'")]
    assert [(a["rule"], a["outcome"], a["purpose"]) for a in audit] == [("greet-member", "no_consent", "personalisation")]
    assert "card:BB22" not in json.dumps(audit)
    assert db["profile_local"].count == 0  # no visit counted without consent for personalisation


async def test_voice_intent_hook_and_mode(broker: Mosquitto, tmp_path: Path) -> None:
    """The voice part calls `runtime.service("rules").on_intent(...)`; a rule with a delay runs as a task and
    `mode: single` skips a second trigger meanwhile, while `queued` runs it afterwards."""
    write_rules(tmp_path / "rules", """
- id: hours
  trigger: {intent: AskOpeningHours}
  mode: single
  limits: {scope: site}
  actions:
    - say: {text: "open until eight"}
    - delay: 0.5s
    - publish: {topic: "out/{{ site }}/done", payload: "hours"}
- id: queue-me
  trigger: {intent: Queue}
  mode: queued
  limits: {scope: site}
  actions:
    - publish: {topic: "out/{{ site }}/q", payload: "{{ slots.n }}"}
    - delay: 0.2s
""")
    settings = live_settings(broker, tmp_path)
    collector = Collector(broker.host, broker.port, ["hermes/tts/say", "out/#"])
    try:
        async with running_gateway(settings) as runtime:
            rules = runtime.service("rules")
            assert rules is not None
            rules.on_intent("kiosk1", "AskOpeningHours", {}, None)
            rules.on_intent("kiosk1", "AskOpeningHours", {}, None)
            (say,) = await wait_for_payloads(collector, "hermes/tts/say")
            await wait_for_payloads(collector, "out/kiosk1/done")
            for n in range(3):
                rules.on_intent("kiosk1", "Queue", {"n": n}, None)
            assert await wait_for_payloads(collector, "out/kiosk1/q", 3) == ["0", "1", "2"]
            reasons = [d.reason for d in rules.recent if d.rule_id == "hours"]
    finally:
        collector.close()
    assert say["text"] == "open until eight" and say["siteId"] == "kiosk1"
    assert reasons == ["fired", "busy: still running (mode single)"]
    assert payloads(collector, "hermes/tts/say") == [say]
