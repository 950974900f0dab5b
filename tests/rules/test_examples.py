"""The example rules in `rules/`: replayed with `touchgate rules test`, and live through a broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config.settings import PROJECT_ROOT
from gateway.store.database import connect
from gateway.store.profiles import profile_view
from tests.rules.live import card_tap, consent, footfall, live_settings, occupancy, payloads, publish, seed_profiles, wait_for_payloads
from tests.support.clients import Collector, Publisher
from tests.support.gateway import running_gateway, wait_until
from tests.support.mosquitto import Mosquitto

EXAMPLES = PROJECT_ROOT / "rules"


def test_rules_test_command_replays_the_example_morning(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "test", str(EXAMPLES / "examples" / "morning.jsonl"), "--json"]) == 0
    out, err = capsys.readouterr()
    decisions = [json.loads(line) for line in out.splitlines()]
    fired = [(d["line"], d["rule"]) for d in decisions if d["fired"]]
    assert fired == [
        (5, "welcome-loyalty-member"), (5, "fifth-visit-badge"), (6, "welcome-anyone"), (9, "coffee-offer"),
        (11, "fitting-room-long"), (13, "open-another-checkout"), (14, "closing-time"),
    ]
    why_not = {(d["line"], d["rule"]): d["reason"] for d in decisions if not d["fired"]}
    assert why_not[(6, "welcome-loyalty-member")] == "no consent for personalisation"
    assert why_not[(7, "fifth-visit-badge")] == "condition 2 false: not(profile.badges contains 'regular')"
    assert why_not[(12, "open-another-checkout")] == "condition 1 false: counter.footfall[900s] at_least 40"
    by_rule = {d["rule"]: d for d in decisions if d["fired"]}
    assert "Welcome back, Anna!" in by_rule["welcome-loyalty-member"]["outputs"][0]
    assert "46 people came in" in by_rule["open-another-checkout"]["outputs"][0]
    assert "fitting-room-long: fired 1" in err


def test_rules_test_text_output_and_bad_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"received_at": 1795860000, "site": "shop1", "device": "m", "kind": "footfall", "purpose": "analytics", "attributes": {"period_in": 50}}\n'
        '{"received_at": "yesterday", "site": "shop1"}\n'
        "not json\n"
    )
    assert main(["rules", "test", str(events)]) == 1
    out, err = capsys.readouterr()
    assert "FIRED  open-another-checkout" in out
    assert f"{events}:2: received_at" in err and f"{events}:3: " in err
    assert "welcome-anyone: fired 0 (never triggered)" in err


def test_rules_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "list"]) == 0
    out = capsys.readouterr().out
    assert "coffee-offer" in out and "purpose personalisation" in out and "shop.yaml:" in out


async def test_examples_live(broker: Mosquitto, tmp_path: Path) -> None:
    # The examples as shipped, with the `for:` durations shortened so the test takes a second.
    rules = (EXAMPLES / "shop.yaml").read_text().replace("for: 30s", "for: 0.3s").replace("for: 10m", "for: 0.5s")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "shop.yaml").write_text(rules)
    settings = live_settings(broker, tmp_path)
    seed_profiles(settings, {
        "card:A1": {"first_name": "Anna", "loyalty_tier": "gold", "segments": ["coffee_lover"], "visit_count": 4},
        "card:B2": {"first_name": "Ben", "loyalty_tier": "silver", "visit_count": 1},
    })
    collector = Collector(broker.host, broker.port, ["hermes/tts/say", "touchgate/#"])
    try:
        async with running_gateway(settings) as runtime:
            with Publisher(broker.host, broker.port) as pub:
                await publish(pub, consent("card:A1", "service", "personalisation"), consent("card:B2", "service", "personalisation"))
                await wait_until(lambda: runtime.service("consent").allows("card:B2", "personalisation"))  # type: ignore[union-attr]
                # 1 + 5: Anna's fifth visit: welcome on the entrance display, badge and points.
                await publish(pub, card_tap("entrance", "A1"))
                (welcome,) = await wait_for_payloads(collector, "touchgate/entrance/display/entrance")
                (congrats,) = await wait_for_payloads(collector, "hermes/tts/say")
                # Ben's second visit ever: a member, but no badge yet.
                await publish(pub, card_tap("entrance", "B2"))
                await wait_for_payloads(collector, "touchgate/entrance/display/entrance", 2)
                # 2: Anna taps at the coffee corner, then stays at the shelf.
                await publish(pub, card_tap("coffee", "A1"), occupancy("shop1", "coffee-shelf", True))
                says = await wait_for_payloads(collector, "hermes/tts/say", 2)
                (coffee_display,) = await wait_for_payloads(collector, "touchgate/shop1/display/coffee")
                # 3: a fitting room stays occupied.
                await publish(pub, occupancy("shop1", "fitting-room-1", True))
                (alert,) = await wait_for_payloads(collector, "touchgate/shop1/staff")
                # 4: footfall passes 40 in 15 minutes.
                await publish(pub, footfall("shop1", "24E124716C123456", 25), footfall("shop1", "24E124716C123456", 21))
                alerts = await wait_for_payloads(collector, "touchgate/shop1/staff", 2)
            assert runtime.service("rules") is not None
            await runtime.service("rules").drain()
    finally:
        collector.close()
    assert welcome == {"title": "Welcome back, Anna!", "tier": "gold", "points": "0", "rule": "welcome-loyalty-member"}
    assert congrats["text"].startswith("Congratulations Anna!") and congrats["siteId"] == "entrance"
    ben = payloads(collector, "touchgate/entrance/display/entrance")[1]
    assert ben["title"] == "Welcome back, Ben!"
    assert says[1]["siteId"] == "coffee" and "flat white is 20% off" in says[1]["text"]
    assert coffee_display == {"offer": "flat-white-20", "name": "Anna", "rule": "coffee-offer"}
    assert alert["rule"] == "fitting-room-long" and alert["device"] == "fitting-room-1" and alert["level"] == "warning"
    assert alerts[1]["rule"] == "open-another-checkout" and alerts[1]["message"].startswith("46 people")
    db = connect(settings.store.path)
    anna, ben_profile = profile_view(db, "card:A1"), profile_view(db, "card:B2")
    assert anna["visit_count"] == 5 and anna["badges"] == ["regular"] and anna["loyalty_points"] == 50
    assert ben_profile["visit_count"] == 2 and "badges" not in ben_profile
    badge_events = list(db.query("SELECT customer_id FROM events WHERE kind = 'loyalty.badge'"))
    assert badge_events == [{"customer_id": "card:A1"}]
