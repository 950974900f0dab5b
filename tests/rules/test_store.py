"""The profile and rule-state queries on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from gateway.store.database import Transaction, connect
from gateway.store.profiles import load_profiles, merge_profile_attributes, profile_view
from gateway.store.rule_state import RuleStateWrite, forget_customer_state, load_rule_state, write_rule_state


def test_merge_profile_attributes(tmp_path: Path) -> None:
    db = connect(tmp_path / "t.db")
    assert merge_profile_attributes(db, "c1", {"tier": "gold", "name": "Ann"}, 100.0)
    assert merge_profile_attributes(db, "c1", {"tier": "silver", "name": None}, 200.0)
    assert not merge_profile_attributes(db, "c1", {"tier": "bronze"}, 150.0)  # older: ignored
    assert profile_view(db, "c1") == {"tier": "silver"}
    assert load_profiles(db, ["c1", "nobody"]) == {"c1": ({"tier": "silver"}, {}), "nobody": ({}, {})}


def test_local_attributes_lie_over_pulled_ones_and_survive_pulls(tmp_path: Path) -> None:
    db = connect(tmp_path / "t.db")
    merge_profile_attributes(db, "c1", {"loyalty_points": 10, "tier": "gold"}, 100.0)
    write_rule_state(db, RuleStateWrite(at=1.0, profiles=[("c1", {"loyalty_points": 25, "badges": ["b"]})]))
    merge_profile_attributes(db, "c1", {"tier": "platinum"}, 300.0)
    assert profile_view(db, "c1") == {"loyalty_points": 25, "badges": ["b"], "tier": "platinum"}


def test_rule_state_round_trip_and_erasure(tmp_path: Path) -> None:
    db = connect(tmp_path / "t.db")
    write = RuleStateWrite(
        at=1000.0,
        limits=[("r", "customer:c1", {"fired": [990.0]}), ("r", "device:s/d", {"fired": [995.0]})],
        counters=[("visits:c1", {"starts": [900.0]}), ("occupied:s/d", {"since": 990.0})],
        stats={("r", "fired"): 2},
    )
    write_rule_state(db, write)
    write_rule_state(db, RuleStateWrite(at=1001.0, stats={("r", "fired"): 1}))
    limits, counters = load_rule_state(db, 0.0)
    assert sorted(limits) == [("r", "customer:c1", {"fired": [990.0]}), ("r", "device:s/d", {"fired": [995.0]})]
    assert dict(counters)["visits:c1"] == {"starts": [900.0]}
    assert db.execute("SELECT count FROM rule_stats").fetchone()[0] == 3
    assert load_rule_state(db, 1000.5) == ([], [])
    with Transaction(db) as conn:
        assert forget_customer_state(conn, "c1") == 2
    limits, counters = load_rule_state(db, 0.0)
    assert [scope for _, scope, _ in limits] == ["device:s/d"] and [k for k, _ in counters] == ["occupied:s/d"]
