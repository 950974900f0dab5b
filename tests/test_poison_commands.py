"""Poison messages beyond the sensor path, with real crashes against a real Mosquitto:

* the consent inbox acknowledges a message only after its work, so one that kills the process
  (SIGKILL, as a native crash would) comes back: after the second death it is dead-lettered
  `poison`, and the inbox goes on;
* Hermes control is acknowledged (the PUBACK written) before it is acted on: a message that kills
  the process is not redelivered at all, so the gateway dies once and then stays up.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support.clients import Collector, Publisher
from tests.support.mosquitto import Mosquitto
from tests.support.procs import wait_for, write_config
from tests.test_poison import CRASHER, PILL, CrashingGateway, rows

CONSENT = "touchgate/shop1/consent"
START_SESSION = "hermes/dialogueManager/startSession"


def crashing_gateway(tmp_path: Path, broker: Mosquitto, db_path: Path) -> tuple[CrashingGateway, Path]:
    crash_log = tmp_path / "crashes.log"
    env = {
        "PYTHONPATH": f"{CRASHER}:{Path(__file__).resolve().parents[1]}",
        "TOUCHGATE_TEST_CRASH_ON": PILL,
        "TOUCHGATE_TEST_CRASH_LOG": str(crash_log),
    }
    gateway = CrashingGateway(write_config(tmp_path / "config.yaml", broker, db_path), env=env)
    gateway.start(timeout=60)  # ready: subscribed with a persistent session
    return gateway, crash_log


def deaths_until_it_stays_up(gateway: CrashingGateway, attempts: int = 4) -> int:
    """Restart after each death, as systemd would; how many deaths before it stayed up 20 s."""
    deaths = 0
    for _ in range(attempts):
        assert gateway.proc is not None
        try:
            gateway.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            return deaths
        deaths += 1
        gateway.launch()
    return deaths


def test_consent_message_in_flight_at_two_sigkills_is_quarantined(broker: Mosquitto, tmp_path: Path) -> None:
    db_path = tmp_path / "gw.db"
    gateway, crash_log = crashing_gateway(tmp_path, broker, db_path)
    poison = json.dumps({"customer_id": f"card:{PILL}", "purposes": ["marketing"], "status": "granted"})
    try:
        with Publisher(broker.host, broker.port, client_id="consent-publisher") as pub:
            pub.publish_all([(CONSENT, poison)])
        deaths = deaths_until_it_stays_up(gateway)
        assert deaths == 2, f"died {deaths} times:\n" + "\n".join(gateway.lines[-30:])
        wait_for(lambda: rows(db_path, f"SELECT reason FROM dead_letters WHERE topic = '{CONSENT}'") == [("poison",)], timeout=30)
        # The inbox still works: a consent for a customer nobody knows is answered with its dead letter.
        with Publisher(broker.host, broker.port, client_id="consent-canary") as pub:
            pub.publish_all([(CONSENT, json.dumps({"customer_id": "card:0000CAFE", "purposes": ["marketing"], "status": "granted"}))])
        wait_for(lambda: ("unknown_customer",) in rows(db_path, f"SELECT reason FROM dead_letters WHERE topic = '{CONSENT}'"), timeout=30)
        assert gateway.proc is not None and gateway.proc.poll() is None
    finally:
        gateway.kill()
    assert crash_log.read_text().splitlines() == [f"{CONSENT} dup=False", f"{CONSENT} dup=True"]
    assert rows(db_path, "SELECT COUNT(*) FROM in_flight") == [(0,)]


def test_hermes_control_that_kills_the_process_is_not_redelivered(broker: Mosquitto, tmp_path: Path) -> None:
    db_path = tmp_path / "gw.db"
    gateway, crash_log = crashing_gateway(tmp_path, broker, db_path)
    started = Collector(broker.host, broker.port, ["hermes/dialogueManager/sessionStarted"], client_id="hermes-watch")
    try:
        with Publisher(broker.host, broker.port, client_id="hermes-publisher") as pub:
            pub.publish_all([(START_SESSION, json.dumps({"siteId": "kitchen", "customData": PILL}))])
        deaths = deaths_until_it_stays_up(gateway)
        assert deaths == 1, f"died {deaths} times:\n" + "\n".join(gateway.lines[-30:])
        # Up, and acting on Hermes: the next startSession starts a session.
        with Publisher(broker.host, broker.port, client_id="hermes-canary") as pub:
            pub.publish_all([(START_SESSION, json.dumps({"siteId": "kitchen", "customData": "canary"}))])
        started.wait_for(lambda m: json.loads(m.payload).get("customData") == "canary", timeout=30)
        assert gateway.proc is not None and gateway.proc.poll() is None
    finally:
        started.close()
        gateway.kill()
    assert crash_log.read_text().splitlines() == [f"{START_SESSION} dup=None"]
