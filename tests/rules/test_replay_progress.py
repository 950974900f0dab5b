"""`touchgate rules test` on a long file, as a child process: a progress bar on standard error when
that is a terminal, nothing extra when it is a pipe, and standard output stays the same either way."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run_touchgate

LINES = 3000


def long_replay(path: Path) -> Path:
    """A morning of footfall counts, a comment and blank lines between (they count as lines)."""
    rows = ["# a long morning"]
    for i in range(LINES - 2):
        rows.append(json.dumps({
            "received_at": 1795860000 + 30 * i, "site": "shop1", "device": "door", "kind": "footfall",
            "purpose": "analytics", "attributes": {"period_in": i % 60},
        }))
    rows.append("")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_no_bar_when_standard_error_is_a_pipe(tmp_path: Path) -> None:
    events = long_replay(tmp_path / "events.jsonl")
    run = run_touchgate(["rules", "test", str(events), "--json"])
    assert run.code == 0, run.stderr
    assert run.stderr.startswith("summary:\n") and "replay" not in run.stderr and "\r" not in run.stderr
    decisions = [json.loads(line) for line in run.stdout.splitlines()]
    assert {d["line"] for d in decisions} == set(range(2, LINES))


def test_a_bar_on_a_terminal_and_clean_output(tmp_path: Path) -> None:
    events = long_replay(tmp_path / "events.jsonl")
    piped = run_touchgate(["rules", "test", str(events), "--json"])
    shown = run_touchgate(["rules", "test", str(events), "--json"], terminal=True)
    assert shown.code == 0
    assert "replay" in shown.stderr and f"{LINES}/{LINES}" in shown.stderr and "100%" in shown.stderr
    assert "summary:" in shown.stderr
    assert shown.stdout == piped.stdout  # the bar never reaches standard output
