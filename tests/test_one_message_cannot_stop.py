"""The four reproductions of issue 13, against a real Mosquitto: each once took the gateway down
(and, unacknowledged, kept it down). Now each message is stored or dead-lettered with a reason,
acknowledged, and the gateway goes on (a canary published afterwards is stored)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from gateway.app import Gateway
from tests.reliability.support import assert_alive
from tests.rules.live import live_settings
from tests.rules.support import write_rules
from tests.support.clients import Publisher
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto

COOLROOM = "tele/shop1_coolroom/SENSOR"
MOTION = "zigbee2mqtt/shop1/entrance-motion"


def dead_letters(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT topic, reason FROM dead_letters ORDER BY id").fetchall()


async def publish(broker: Mosquitto, *messages: tuple[str, bytes | str], retain: bool = False, client_id: str = "repro") -> None:
    def send() -> None:
        with Publisher(broker.host, broker.port, client_id=client_id) as pub:
            infos = [pub.client.publish(t, p, qos=1, retain=retain) for t, p in messages]
            for info in infos:
                info.wait_for_publish(30)

    await asyncio.to_thread(send)


async def still_taking_messages(broker: Mosquitto, runtime: Gateway) -> None:
    stored = runtime.ingest.counters.stored
    await publish(broker, ("zigbee2mqtt/shop1/canary", json.dumps({"occupancy": True})), client_id="canary")
    await wait_until(lambda: runtime.ingest.counters.stored > stored)
    assert_alive(runtime)
    assert runtime.ingest.counters.in_flight() == 0


async def test_year_one_device_time_is_a_bad_time_dead_letter(broker: Mosquitto, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path)
    async with running_gateway(settings) as runtime:
        await publish(broker, (COOLROOM, '{"Time":"0001-01-01T00:00:00","AM2301":{"Temperature":21.5,"Humidity":40}}'))
        await wait_until(lambda: runtime.ingest.counters.dead_letters >= 1)
        await still_taking_messages(broker, runtime)
    assert dead_letters(settings.store.path) == [(COOLROOM, "bad_time")]


async def test_401_digit_integer_is_out_of_range_in_every_numeric_field(broker: Mosquitto, tmp_path: Path) -> None:
    huge = "1" + "0" * 400
    settings = gateway_settings(broker, tmp_path)
    async with running_gateway(settings) as runtime:
        await publish(
            broker,
            (MOTION, f'{{"occupancy":true,"battery":{huge}}}'),
            (MOTION, f'{{"occupancy":true,"voltage":-{huge}}}'),
            (COOLROOM, f'{{"AM2301":{{"Temperature":{huge},"Humidity":40}}}}'),
        )
        await wait_until(lambda: runtime.ingest.counters.dead_letters >= 3)
        await still_taking_messages(broker, runtime)
    assert dead_letters(settings.store.path) == [(MOTION, "out_of_range"), (MOTION, "out_of_range"), (COOLROOM, "out_of_range")]


RULES = """
rules:
  - id: lux-ratio
    trigger: {kind: occupancy}
    actions:
      - say: {text: "{{ 1000 / event.attributes.illuminance }}"}
  - id: long-range
    trigger: {kind: occupancy}
    actions:
      - say: {text: "{% for i in range(event.attributes.illuminance * 100000000) %}x{% endfor %}"}
  - id: still-fine
    trigger: {kind: occupancy}
    actions:
      - say: {text: "lux {{ event.attributes.illuminance }}"}
"""


async def test_rule_template_errors_are_the_rules_errors(broker: Mosquitto, tmp_path: Path) -> None:
    write_rules(tmp_path / "rules", RULES)
    settings = live_settings(broker, tmp_path)
    async with running_gateway(settings) as runtime:
        rules = runtime.service("rules")
        assert rules is not None
        await publish(broker, (MOTION, '{"occupancy":true,"illuminance":0}'), (MOTION, '{"occupancy":true,"illuminance":5}'))
        await wait_until(lambda: rules.processed >= 2)
        await rules.drain()
        outcomes = [(d.rule_id, d.outcome) for d in rules.recent]
        assert ("lux-ratio", "error") in outcomes  # ZeroDivisionError at illuminance 0
        assert ("long-range", "error") in outcomes  # OverflowError: range() past the sandbox's limit
        assert outcomes.count(("still-fine", "fired")) == 2  # the other rules and events go on
        assert rules.errors >= 2
        await still_taking_messages(broker, runtime)
    with sqlite3.connect(settings.store.path) as conn:
        audited = conn.execute("SELECT detail FROM audit WHERE kind = 'rules.error'").fetchall()
    assert any("ZeroDivisionError" in d for (d,) in audited), audited


async def test_retained_erasure_runs_at_most_once_and_retained_state_is_stored_once(broker: Mosquitto, tmp_path: Path) -> None:
    # Both published retained while the gateway is away: the broker replays them on every subscribe.
    await publish(broker, ("touchgate/shop1/erasure", json.dumps({"customer_id": "card:04A1B2C3"})), retain=True)
    await publish(broker, (MOTION, '{"occupancy":false,"illuminance":12}'), retain=True)
    settings = gateway_settings(broker, tmp_path)
    for _restart in range(3):
        async with running_gateway(settings) as runtime:
            await wait_until(lambda: runtime.ingest.counters.dead_letters + runtime.ingest.counters.stored + runtime.ingest.counters.redeliveries_skipped >= 2)
            await still_taking_messages(broker, runtime)
    with sqlite3.connect(settings.store.path) as conn:
        erasures = conn.execute("SELECT COUNT(*) FROM erasures").fetchone()[0]
        queued = conn.execute("SELECT COUNT(*) FROM erasures_outbox").fetchone()[0]
        motion = conn.execute("SELECT COUNT(*) FROM events WHERE device = 'entrance-motion'").fetchone()[0]
    assert (erasures, queued) == (0, 0)  # refused: never executed from a replay
    assert dead_letters(settings.store.path).count(("touchgate/shop1/erasure", "retained_command")) == 3
    assert motion == 1  # the retained state, stored once across three subscribes
