"""Every condition type, evaluated by the pure engine on the rule's own YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rules.support import T0, engine_for, event, fired, reasons

SAY = "actions: [{say: {text: hi}}]"


def one_rule(conditions: str, trigger: str = "{kind: occupancy}", extra: str = "") -> str:
    return f"""
    - id: r
      trigger: {trigger}
      conditions: {conditions}
      {SAY}
      {extra}
    """


@pytest.mark.parametrize(
    ("condition", "attributes", "expected"),
    [
        ("{event: occupancy, equals: true}", {"occupancy": True}, True),
        ("{event: occupancy, equals: true}", {"occupancy": False}, False),
        ("{event: occupancy, equals: true}", {}, False),
        ("{event: illuminance, above: 100}", {"illuminance": 101}, True),
        ("{event: illuminance, above: 100}", {"illuminance": 100}, False),
        ("{event: illuminance, at_least: 100, below: 200}", {"illuminance": 100}, True),
        ("{event: illuminance, at_least: 100, below: 200}", {"illuminance": 200}, False),
        ("{event: illuminance, at_most: 5}", {"illuminance": "5"}, False),  # text is not a number
        ("{event: mode, in: [a, b]}", {"mode": "b"}, True),
        ("{event: mode, not_equals: a}", {"mode": "a"}, False),
        ("{event: mode, not_equals: a}", {}, False),
        ("{event: mode, exists: false}", {}, True),
        ("{event: mode, exists: true}", {"mode": None}, False),
        ("{event: device, equals: d1}", {}, True),
        ("{event: site, equals: other}", {}, False),
        ("{event: kind, equals: occupancy}", {}, True),
        ("{event: label, contains: cof}", {"label": "coffee"}, True),
    ],
)
def test_event_conditions(tmp_path: Path, condition: str, attributes: dict[str, object], expected: bool) -> None:
    engine, _ = engine_for(tmp_path, one_rule(f"[{condition}]"))
    decisions = engine.process(event(**attributes))
    assert (fired(decisions) == ["r"]) is expected, reasons(decisions)


def test_profile_conditions_need_consent_and_read_the_profile(tmp_path: Path) -> None:
    rules = """
    - id: gold
      purpose: personalisation
      trigger: {kind: identify}
      conditions:
        - {profile: loyalty_tier, in: [gold, platinum]}
        - {profile: segments, contains: coffee_lover}
        - {profile: visit_count, at_least: 3}
      actions: [{say: {text: "hi {{ profile.first_name }}"}}]
    """
    engine, consents = engine_for(tmp_path, rules)
    consents.granted.add(("c1", "personalisation"))
    engine.profiles.put("c1", {"loyalty_tier": "gold", "segments": ["coffee_lover"], "visit_count": 1}, {}, T0)
    # visit_count 1 pulled + this identify = 2 visits: not yet 3
    first = engine.process(event("identify", customer="c1"))
    assert reasons(first)["gold"] == "condition 3 false: profile.visit_count at_least 3"
    second = engine.process(event("identify", at=T0 + 5 * 3600, customer="c1"))
    assert fired(second) == ["gold"]
    engine.profiles.put("c2", {"loyalty_tier": "silver", "segments": ["coffee_lover"], "visit_count": 9}, {}, T0)
    consents.granted.add(("c2", "personalisation"))
    assert reasons(engine.process(event("identify", customer="c2")))["gold"].startswith("condition 1 false")


def test_slot_conditions_on_intents(tmp_path: Path) -> None:
    rules = """
    - id: find
      trigger: {intent: FindProduct, slots: {category: coffee}}
      conditions: [{slot: brand, in: [lavazza, illy]}]
      actions: [{say: {text: "{{ slots.brand }} is in aisle 3"}}]
    """
    engine, _ = engine_for(tmp_path, rules)
    assert fired(engine.on_intent("kiosk1", "FindProduct", {"category": "coffee", "brand": "illy"}, None, T0)) == ["find"]
    assert fired(engine.on_intent("kiosk1", "FindProduct", {"category": "coffee", "brand": "other"}, None, T0)) == []
    assert engine.on_intent("kiosk1", "FindProduct", {"category": "tea", "brand": "illy"}, None, T0) == []
    engine.explain = True
    assert reasons(engine.on_intent("kiosk1", "FindProduct", {"category": "tea"}, None, T0)) == {"find": "trigger: slot category is not 'coffee'"}
    assert engine.on_intent("kiosk1", "Other", {}, None, T0) == []


def test_dwell_counter_from_occupancy_on_and_off(tmp_path: Path) -> None:
    rules = """
    zones: {shelf: ["shop1/shelf-*"]}
    rules:
      - id: dwell
        trigger: {kind: beacon, zone: shelf}
        conditions: [{counter: dwell, at_least: 60}]
        actions: [{say: {text: "dwell {{ counters.dwell }}"}}]
    """
    engine, _ = engine_for(tmp_path, rules)
    engine.process(event("occupancy", at=T0, device="shelf-a", occupancy=True))
    engine.process(event("occupancy", at=T0 + 30, device="shelf-a", occupancy=True))  # repeats do not restart
    assert fired(engine.process(event("beacon", at=T0 + 59, device="shelf-b", rssi=-60))) == []
    decisions = engine.process(event("beacon", at=T0 + 61, device="shelf-b", rssi=-60))
    assert fired(decisions) == ["dwell"]
    assert b"dwell 61" in decisions[0].outputs[0].payload  # type: ignore[union-attr]
    engine.process(event("occupancy", at=T0 + 70, device="shelf-a", occupancy=False))
    assert fired(engine.process(event("beacon", at=T0 + 200, device="shelf-b", rssi=-60))) == []


def test_footfall_counter_over_a_window(tmp_path: Path) -> None:
    engine, _ = engine_for(tmp_path, one_rule("[{counter: footfall, window: 10m, above: 10}]", "{kind: footfall}"))
    assert fired(engine.process(event("footfall", at=T0, period_in=6))) == []
    assert fired(engine.process(event("footfall", at=T0 + 300, period_in=5))) == ["r"]
    # 11 minutes later only the second report is inside the window
    assert fired(engine.process(event("footfall", at=T0 + 960, period_in=5))) == []


def test_visits_counter_counts_visits_not_taps(tmp_path: Path) -> None:
    rules = """
    - id: regular
      purpose: personalisation
      trigger: {kind: identify}
      conditions: [{counter: visits, window: 7d, at_least: 3}]
      actions: [{award_badge: {badge: weekly}}]
    """
    engine, consents = engine_for(tmp_path, rules, visit_gap_s=3600)
    consents.granted.add(("c1", "personalisation"))
    for at in (T0, T0 + 60, T0 + 120):  # three taps in one visit
        assert fired(engine.process(event("identify", at=at, customer="c1"))) == []
    assert fired(engine.process(event("identify", at=T0 + 86400, customer="c1"))) == []
    assert fired(engine.process(event("identify", at=T0 + 2 * 86400, customer="c1"))) == ["regular"]
    assert engine.profiles.get("c1")["visit_count"] == 3  # type: ignore[index]
    # Eight days after the first visit, the window holds the second and third.
    assert engine.counters.visits_in("c1", 7 * 86400, T0 + 8 * 86400) == 2


def test_visits_are_not_counted_without_consent(tmp_path: Path) -> None:
    engine, _ = engine_for(tmp_path, one_rule("[]", "{kind: identify}"))
    engine.process(event("identify", customer="c9"))
    assert engine.counters.visits_in("c9", 86400, T0) == 0
    assert engine.profiles.get("c9") is None


@pytest.mark.parametrize(
    ("window", "at", "expected"),
    [
        ("{after: '09:00', before: '11:00'}", T0, True),  # Saturday 10:00 UTC
        ("{after: '10:30'}", T0, False),
        ("{after: '22:00', before: '11:00'}", T0, True),  # wraps past midnight
        ("{weekdays: [sat, sun]}", T0, True),
        ("{weekdays: [mon]}", T0, False),
        ("{before: '10:00'}", T0, False),
    ],
)
def test_time_conditions(tmp_path: Path, window: str, at: float, expected: bool) -> None:
    engine, _ = engine_for(tmp_path, one_rule(f"[{{time: {window}}}]"))
    assert (fired(engine.process(event(at=at, occupancy=True))) == ["r"]) is expected


def test_opening_hours(tmp_path: Path) -> None:
    from gateway.rules.engine import Engine, EngineConfig
    from gateway.rules.loader import load_rules
    from gateway.rules.replay import MemoryConsents
    from gateway.rules.settings import RulesSettings
    from tests.rules.support import write_rules

    write_rules(tmp_path / "r", one_rule("[{open: true}]"))
    settings = RulesSettings(dir=tmp_path / "r", timezone="UTC", opening_hours={"sat": ["09:00-12:00", "13:00-17:00"]})
    rules = load_rules(settings).rules
    assert rules is not None
    engine = Engine(rules, MemoryConsents(), EngineConfig(timezone="UTC"))
    assert fired(engine.process(event(at=T0))) == ["r"]  # 10:00
    assert fired(engine.process(event(at=T0 + 2.5 * 3600))) == []  # 12:30, lunch
    assert fired(engine.process(event(at=T0 + 86400))) == []  # Sunday: closed


def test_any_all_not(tmp_path: Path) -> None:
    condition = "[{any: [{event: a, equals: 1}, {all: [{event: b, equals: 2}, {not: {event: c, exists: true}}]}]}]"
    engine, _ = engine_for(tmp_path, one_rule(condition))
    assert fired(engine.process(event(a=1))) == ["r"]
    assert fired(engine.process(event(b=2))) == ["r"]
    assert fired(engine.process(event(b=2, c=0))) == []
    assert fired(engine.process(event(a=0))) == []


def test_fired_counter(tmp_path: Path) -> None:
    engine, _ = engine_for(tmp_path, one_rule("[{not: {counter: fired, window: 1h, at_least: 2}}]"))
    results = [bool(fired(engine.process(event(at=T0 + i * 60)))) for i in range(4)]
    assert results == [True, True, False, False]
    assert fired(engine.process(event(at=T0 + 3700))) == ["r"]
