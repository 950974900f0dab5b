"""Rules on zone figures, through a real Mosquitto, SQLite and the consent ledger: a long queue
at the checkout calls staff; a consenting customer who lingers at the coffee shelf gets an offer
(and one who did not consent does not)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.rules.live import card_tap, consent, occupancy, payloads, publish, seed_profiles, wait_for_payloads
from gateway.config.settings import Settings
from tests.rules.support import write_rules
from tests.support.clients import Collector, Publisher
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto

RULES = """
zones:
  checkout: ["shop1/lane-*"]
  coffee_shelf: ["coffee", "shop1/coffee-*"]
rules:
  - id: open-a-till
    trigger: {figure: queue_length, zone: checkout, above: 5, for: 2s}
    actions:
      - notify_staff: {message: "{{ event.attributes.value | int }} waiting at {{ zone }}: open a till", level: urgent}
    limits: {scope: zone, cooldown: 10m}
  - id: coffee-offer
    purpose: personalisation
    customer: present
    trigger: {figure: dwell_s, zone: coffee_shelf, above: 2}
    actions:
      - say: {text: "{{ profile.first_name }}, a flat white is 20% off for you", site: coffee}
    limits: {caps: [{max: 1, per: 1d}]}
"""


def settings_for(broker: Mosquitto, tmp_path: Path, analytics: dict[str, object]) -> Settings:
    # No speech synthesis: the offer is checked on hermes/tts/say, where the rules publish it.
    return gateway_settings(
        broker, tmp_path, rules={"dir": tmp_path / "rules", "timezone": "UTC"}, analytics=analytics, tts={"enabled": False}
    )


def lane_counter(period_in: int, period_out: int) -> tuple[str, str]:
    return "milesight/shop1/lane-counter/uplink", json.dumps({"line_1_period_in": period_in, "line_1_period_out": period_out})


async def test_queue_and_dwell_triggers_fire_over_mqtt(broker: Mosquitto, tmp_path: Path) -> None:
    write_rules(tmp_path / "rules", RULES)
    settings = settings_for(broker, tmp_path, {"zones": {"checkout": {"role": "checkout"}}, "tick_s": 0.2})
    seed_profiles(settings, {"card:C1": {"first_name": "Cleo"}})
    collector = Collector(broker.host, broker.port, ["touchgate/+/staff", "hermes/tts/say"])
    try:
        async with running_gateway(settings) as runtime:
            analytics, consents, rules = runtime.service("analytics"), runtime.service("consent"), runtime.service("rules")
            assert analytics is not None and consents is not None and rules is not None
            with Publisher(broker.host, broker.port) as pub:
                await publish(pub, lane_counter(7, 0))
                (staff,) = await wait_for_payloads(collector, "touchgate/shop1/staff", timeout=15)
                assert staff["rule"] == "open-a-till" and staff["message"] == "7 waiting at checkout: open a till"
                assert analytics.live()["checkout"]["queue_length"] == 7

                await publish(pub, consent("card:C1", "service", "personalisation"))
                await wait_until(lambda: consents.allows("card:C1", "personalisation"))
                await publish(pub, card_tap("coffee", "C1"), occupancy("shop1", "coffee-pir", True))
                (say,) = await wait_for_payloads(collector, "hermes/tts/say", timeout=15)
                assert say["text"] == "Cleo, a flat white is 20% off for you" and say["siteId"] == "coffee"
            decided = [d for d in rules.recent if d.rule_id == "coffee-offer"]
            assert decided[0].fired and decided[0].customer_id == "card:C1"
    finally:
        collector.close()
    assert len(payloads(collector, "touchgate/shop1/staff")) == 1  # held, not re-fired every tick


async def test_dwell_offer_needs_consent(broker: Mosquitto, tmp_path: Path) -> None:
    write_rules(tmp_path / "rules", RULES)
    settings = settings_for(broker, tmp_path, {"tick_s": 0.2})
    seed_profiles(settings, {"card:C2": {"first_name": "Dan"}})
    async with running_gateway(settings) as runtime:
        consents, rules = runtime.service("consent"), runtime.service("rules")
        with Publisher(broker.host, broker.port) as pub:
            # Consent to be served (the card tap keeps its customer) but not to personalisation.
            await publish(pub, consent("card:C2", "service"))
            await wait_until(lambda: consents.allows("card:C2", "service"))
            await publish(pub, card_tap("coffee", "C2"), occupancy("shop1", "coffee-pir", True))
            await wait_until(lambda: any(d.rule_id == "coffee-offer" for d in rules.recent), timeout=15)
        decision = next(d for d in rules.recent if d.rule_id == "coffee-offer")
    assert not decision.fired and decision.reason == "no consent for personalisation"
