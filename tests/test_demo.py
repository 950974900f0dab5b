"""`touchgate demo` runs a whole shop on this machine, with Mosquitto or the embedded broker."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("broker", ["mosquitto", "embedded"])
def test_demo_shows_stored_events_and_dead_letters(broker: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "demo", "--duration", "15", "--broker", broker],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    stored = [line for line in lines if " stored " in line]
    kinds = {line.split()[2] for line in stored}
    assert {"occupancy", "footfall", "door", "climate", "beacon", "identify"} <= kinds, kinds
    assert any(" dead-letter " in line and "wrong_type" in line for line in lines)
    # The whole loop: rules act on a card tap, and consented events reach the central service.
    assert any(" action " in line and "Welcome back, Anna!" in line for line in lines)
    sent = [int(line.split("sent to the central service:")[1].split(",")[0]) for line in lines if " sync " in line]
    assert sent and sent[-1] > 0
    summary = next(line for line in lines if "events stored:" in line)
    # Rules may store events of their own (emit_event), so the database holds at least these.
    assert int(summary.split("events stored:")[1].split(",")[0]) >= len(stored)
