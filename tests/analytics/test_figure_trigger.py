"""The rules' figure trigger, in the pure engine: bounds, `for:` holds and re-arms, bad triggers
are load errors with file and line; and the one-time login code of the status page."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.model.figures import FigureChange
from gateway.rules.figures import figure_events
from gateway.api.auth import Authenticator
from gateway.rules.loader import load_rules
from gateway.rules.settings import RulesSettings
from tests.rules.support import T0, engine_for, fired, write_rules

RULES = """
zones: {checkout: ["shop1/lane-*"]}
rules:
  - id: long-queue
    trigger: {figure: queue_length, zone: checkout, above: 5, for: 120s}
    actions: [{notify_staff: {message: "{{ event.attributes.value }} at {{ zone }}"}}]
  - id: empty-shop
    trigger: {figure: occupancy, zone: checkout, below: 1}
    actions: [{notify_staff: {message: "nobody"}}]
"""


def queue(value: float, at: float, zone: str = "checkout") -> list:  # type: ignore[type-arg]
    return figure_events("shop1", [FigureChange(zone, "queue_length", value, at)])


def test_a_figure_trigger_fires_once_it_held_and_again_only_after_it_stopped(tmp_path: Path) -> None:
    engine, _ = engine_for(tmp_path, RULES)
    (e,) = queue(6, T0)
    assert fired(engine.process(e)) == []
    (e,) = queue(8, T0 + 60)
    assert fired(engine.process(e)) == []
    assert fired(engine.advance(T0 + 119)) == []
    decisions = engine.advance(T0 + 121)
    assert fired(decisions) == ["long-queue"] and json.loads(decisions[0].outputs[0].payload)["message"] == "6 at checkout"  # type: ignore[union-attr]
    (e,) = queue(9, T0 + 130)
    assert fired(engine.process(e)) == []  # still the same stretch
    (e,) = queue(3, T0 + 140)  # stops holding: re-armed
    engine.process(e)
    (e,) = queue(7, T0 + 150)
    engine.process(e)
    assert fired(engine.advance(T0 + 271)) == ["long-queue"]


def test_a_dip_before_the_hold_ends_cancels_it_and_other_zones_do_not_count(tmp_path: Path) -> None:
    engine, _ = engine_for(tmp_path, RULES)
    for value, at in ((6, T0), (5, T0 + 60), (6, T0 + 100)):
        (e,) = queue(value, at)
        engine.process(e)
    assert fired(engine.advance(T0 + 180)) == []  # re-armed at T0 + 100
    assert fired(engine.advance(T0 + 221)) == ["long-queue"]
    (e,) = queue(50, T0 + 300, zone="entrance")
    assert engine.process(e) == [] and fired(engine.advance(T0 + 1000)) == []


def test_below_bound_without_hold(tmp_path: Path) -> None:
    engine, _ = engine_for(tmp_path, RULES)
    (e,) = figure_events("shop1", [FigureChange("checkout", "occupancy", 0.0, T0)])
    assert fired(engine.process(e)) == ["empty-shop"]


def test_bad_figure_triggers_are_load_errors_with_their_line(tmp_path: Path) -> None:
    for trigger, words in (
        ("{figure: queue_length, above: 5}", "needs a `zone`"),
        ("{figure: queue_length, zone: checkout}", "`above` and/or `below`"),
        ("{figure: smiles, zone: checkout, above: 1}", "figure"),
        ("{kind: footfall, above: 5}", "belong to figure triggers"),
        ("{figure: queue_length, kind: footfall, zone: checkout, above: 1}", "exactly one"),
        ("{figure: queue_length, zone: nowhere, above: 1}", "unknown zone"),
    ):
        folder = tmp_path / str(abs(hash(trigger)))
        write_rules(folder, f'zones: {{checkout: ["shop1/lane-*"]}}\nrules:\n  - id: r\n    trigger: {trigger}\n    actions: [{{notify_staff: {{message: x}}}}]\n')
        result = load_rules(RulesSettings(dir=folder, timezone="UTC"))
        assert result.rules is None, trigger
        text = " ".join(str(p) for p in result.problems)
        assert words in text and (":4" in text or ":5" in text), (trigger, text)


def test_the_one_time_login_code_works_once() -> None:
    auth = Authenticator("a-token-of-sixteen-chars", "one-time-code-xyz")
    assert not auth.consume_login_code("wrong")
    assert auth.consume_login_code("one-time-code-xyz")
    assert not auth.consume_login_code("one-time-code-xyz")
    assert not Authenticator(None, "code").consume_login_code("code")  # no auth: no links
