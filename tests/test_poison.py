"""Poison-message quarantine, with real crashes: a message that kills the gateway process (SIGKILL,
as a native crash or the OOM killer would) while a real Mosquitto keeps redelivering it to the
persistent session. After the second death with it in flight it is dead-lettered `poison` and
acknowledged; the gateway comes up and stays up, and the messages around it are stored once."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from tests.support.clients import Publisher
from tests.support.mosquitto import Mosquitto
from tests.support.procs import GatewayProcess, wait_for, write_config

TOPIC = "zigbee2mqtt/shop1/entrance-motion"
CRASHER = Path(__file__).resolve().parent / "support" / "native_crash"
PILL = "poison-pill-7f3a"


class CrashingGateway(GatewayProcess):
    """The gateway process with the crash stand-in loaded; started without waiting for `ready`
    (it may die before it gets there, which is the point)."""

    def launch(self) -> subprocess.Popen[str]:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "--config", str(self.config)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env,
        )
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        return self.proc


def rows(db_path: Path, sql: str) -> list[tuple[object, ...]]:
    if not db_path.exists():
        return []
    with sqlite3.connect(db_path) as conn:
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:
            return []  # not migrated yet


def test_message_in_flight_at_two_sigkills_is_quarantined(broker: Mosquitto, tmp_path: Path) -> None:
    db_path = tmp_path / "gw.db"
    crash_log = tmp_path / "crashes.log"
    env = {
        "PYTHONPATH": f"{CRASHER}:{Path(__file__).resolve().parents[1]}",
        "TOUCHGATE_TEST_CRASH_ON": PILL,
        "TOUCHGATE_TEST_CRASH_LOG": str(crash_log),
    }
    gateway = CrashingGateway(write_config(tmp_path / "config.yaml", broker, db_path), env=env)
    gateway.start()  # ready: subscribed with a persistent session
    good = [json.dumps({"occupancy": True, "illuminance": n}).encode() for n in range(20)]
    poison = json.dumps({"occupancy": True, "note": PILL}).encode()
    with Publisher(broker.host, broker.port, client_id="poison-publisher") as pub:
        pub.publish_all([(TOPIC, p) for p in good[:10]] + [(TOPIC, poison)] + [(TOPIC, p) for p in good[10:]])
    deaths = 0
    try:
        # Each death is followed by a restart, as systemd would; the broker redelivers every time.
        for _ in range(4):
            assert gateway.proc is not None
            try:
                gateway.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                break  # stayed up
            deaths += 1
            gateway.launch()
        assert deaths == 2, f"died {deaths} times:\n" + "\n".join(gateway.lines[-30:])
        wait_for(lambda: len(rows(db_path, "SELECT 1 FROM events WHERE device = 'entrance-motion'")) >= 20, timeout=30)
        poisoned = rows(db_path, "SELECT reason, raw FROM dead_letters WHERE topic = 'zigbee2mqtt/shop1/entrance-motion'")
        assert poisoned == [("poison", poison)]
        # Still up, and still taking messages: a canary published now is stored.
        with Publisher(broker.host, broker.port, client_id="canary") as pub:
            pub.publish_all([(TOPIC, json.dumps({"occupancy": False, "illuminance": 999}).encode())])
        wait_for(lambda: len(rows(db_path, "SELECT 1 FROM events WHERE device = 'entrance-motion'")) >= 21, timeout=30)
        assert gateway.proc is not None and gateway.proc.poll() is None
    finally:
        gateway.kill()
    crashes = crash_log.read_text().splitlines()
    assert crashes == [f"{TOPIC} dup=False", f"{TOPIC} dup=True"]
    stored = sorted(json.loads(a)["illuminance"] for (a,) in rows(db_path, "SELECT attributes FROM events WHERE device = 'entrance-motion'"))
    assert stored == list(range(20)) + [999]  # every good message exactly once: no bystander blamed
    assert rows(db_path, "SELECT COUNT(*) FROM in_flight") == [(0,)]
