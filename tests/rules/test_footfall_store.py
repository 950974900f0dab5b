"""Footfall series are saved incrementally: each write carries only the samples added since the
previous one, the store keeps exactly the samples of the window (one row each), and a restart
restores the same counts. Before, the whole series (up to 20 000 samples) was serialised and
rewritten after every batch."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from gateway.rules import counters as counters_module
from gateway.rules.counters import Counters
from gateway.store import migrations
from gateway.store.database import connect
from gateway.store.migrations import MIGRATIONS
from gateway.store.rule_state import RuleStateWrite, load_footfall, write_rule_state
from tests.rules.support import T0, event


def _save(db_path: Path, counters: Counters, at: float) -> list[counters_module.FootfallWrite]:
    taken = counters.take_footfall()
    write_rule_state(connect(db_path), RuleStateWrite(at=at, footfall=list(taken)))
    return taken


def _rows(db_path: Path, place: str) -> list[tuple[int, float, int]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT seq, at, count FROM rule_footfall WHERE place = ? ORDER BY seq", (place,)).fetchall()
    finally:
        conn.close()


def test_each_write_carries_only_the_new_samples(tmp_path: Path) -> None:
    db_path = tmp_path / "t.db"
    counters = Counters()
    for n in range(1000):
        counters.observe(event("footfall", at=T0 + n, site="main", period_in=2), ())
    first = _save(db_path, counters, T0 + 1000)
    assert [(w.place, w.keep_from, len(w.samples)) for w in first] == [("site:main", 0, 1000)]
    for n in range(1000, 1003):
        counters.observe(event("footfall", at=T0 + n, site="main", period_in=3), ())
    second = _save(db_path, counters, T0 + 1003)
    assert [w.samples for w in second] == [[(1000, T0 + 1000, 3), (1001, T0 + 1001, 3), (1002, T0 + 1002, 3)]]
    assert counters.take_footfall() == []  # nothing new: nothing to write
    assert len(_rows(db_path, "site:main")) == 1003


def test_the_store_holds_the_window_and_a_restart_restores_it(tmp_path: Path) -> None:
    db_path = tmp_path / "t.db"
    counters = Counters(retention_s=3600.0)
    total_samples = counters_module._MAX_SAMPLES + 7000
    for n in range(total_samples):
        counters.observe(event("footfall", at=T0 + n * 0.1, site="main", period_in=1 + n % 3), ("entrance",))
        if n % 997 == 0:
            _save(db_path, counters, T0 + n * 0.1)
    _save(db_path, counters, T0 + total_samples * 0.1)
    for place in ("site:main", "zone:entrance"):
        rows = _rows(db_path, place)
        # Bounded like the memory window: the newest _MAX_SAMPLES, numbered consecutively.
        assert len(rows) == counters_module._MAX_SAMPLES
        assert [seq for seq, _, _ in rows] == list(range(total_samples - counters_module._MAX_SAMPLES, total_samples))
        assert [(at, count) for _, at, count in rows] == [(at, int(count)) for at, count in counters.footfall[place].pairs()]
    now = T0 + total_samples * 0.1
    restarted = Counters(retention_s=3600.0)
    restarted.restore_footfall(load_footfall(connect(db_path), now - 3600.0))
    for window_s in (10.0, 600.0, 3600.0):
        expected = counters.footfall_in("main", ("entrance",), window_s, now)
        assert restarted.footfall_in("main", ("entrance",), window_s, now) == expected
    # After the restart the numbering goes on where it stopped: no sample is written twice or lost.
    restarted.observe(event("footfall", at=now + 1, site="main", period_in=5), ())
    _save(db_path, restarted, now + 1)
    rows = _rows(db_path, "site:main")
    assert len(rows) == counters_module._MAX_SAMPLES and rows[-1] == (total_samples, now + 1, 5)


def test_a_dropped_series_started_again_replaces_the_stored_one(tmp_path: Path) -> None:
    db_path = tmp_path / "t.db"
    counters = Counters(retention_s=3600.0)
    for n in range(50):
        counters.observe(event("footfall", at=T0 + n, site="pop-up", period_in=1), ())
    _save(db_path, counters, T0 + 50)
    later = T0 + 7200.0  # past the retention: the series is pruned, then counted again
    counters.prune(later)
    counters.observe(event("footfall", at=later, site="pop-up", period_in=4), ())
    _save(db_path, counters, later)
    assert _rows(db_path, "site:pop-up") == [(0, later, 4)]


def test_migration_moves_series_saved_whole(tmp_path: Path) -> None:
    db_path = tmp_path / "old.db"
    conn = sqlite3.connect(db_path, isolation_level=None)
    for script in MIGRATIONS[:4]:
        assert isinstance(script, str)
        for statement in migrations._statements(script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 4")
    old_value = json.dumps({"samples": [[T0, 2], [T0 + 5, 3]]})
    conn.execute("INSERT INTO rule_counters VALUES ('footfall:zone:till', NULL, ?, ?)", (old_value, T0 + 5))
    conn.execute("INSERT INTO rule_counters VALUES ('visits:c1', 'c1', '{\"starts\": [1.0]}', ?)", (T0,))
    assert migrations.migrate(conn) == (4, len(MIGRATIONS))
    assert conn.execute("SELECT key FROM rule_counters").fetchall() == [("visits:c1",)]
    conn.close()
    assert load_footfall(connect(db_path), 0.0) == {"zone:till": [(0, T0, 2), (1, T0 + 5, 3)]}
