"""Caps and cooldowns across a restart; hot reload on file change and SIGHUP, without losing an
event, keeping the old rules when the new file is broken. Real broker, real SQLite file."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from tests.rules.live import live_settings, occupancy, publish, wait_for_payloads, payloads
from tests.rules.support import write_rules
from tests.support.clients import Collector, Publisher
from tests.support.gateway import running_gateway, wait_until
from tests.support.mosquitto import Mosquitto

LIMITED = """
- id: daily
  trigger: {kind: occupancy, device: door-1, attributes: {occupancy: true}}
  actions: [{publish: {topic: out/daily, payload: "{{ event.device }}"}}]
  limits: {caps: [{max: 1, per: 1d}]}
- id: cooled
  trigger: {kind: occupancy, device: door-2, attributes: {occupancy: true}}
  actions: [{publish: {topic: out/cooled, payload: "{{ event.device }}"}}]
  limits: {cooldown: 1h}
"""


async def test_caps_and_cooldowns_survive_a_restart(broker: Mosquitto, tmp_path: Path) -> None:
    write_rules(tmp_path / "rules", LIMITED)
    settings = live_settings(broker, tmp_path)
    collector = Collector(broker.host, broker.port, ["out/#"])
    try:
        with Publisher(broker.host, broker.port) as pub:
            async with running_gateway(settings) as runtime:
                await publish(pub, occupancy("shop1", "door-1", True), occupancy("shop1", "door-2", True))
                await wait_for_payloads(collector, "out/daily")
                await wait_for_payloads(collector, "out/cooled")
                assert runtime.service("rules") is not None
                await runtime.service("rules").drain()
            async with running_gateway(settings) as runtime:
                rules = runtime.service("rules")
                assert rules is not None
                await publish(pub, occupancy("shop1", "door-1", True), occupancy("shop1", "door-2", True))
                await wait_until(lambda: len(rules.recent) >= 2)
                reasons = {d.rule_id: d.reason for d in rules.recent}
                assert reasons["daily"] == "cap: fired 1 time(s) in 1d (max 1)"
                assert reasons["cooled"].startswith("cooldown: ")
                # a rule that was never limited still fires: the gateway is really running
                write_rules(tmp_path / "rules", LIMITED.replace("max: 1, per: 1d", "max: 2, per: 1d"))
                await rules.reload()
                await publish(pub, occupancy("shop1", "door-1", True))
                await wait_for_payloads(collector, "out/daily", 2)
    finally:
        collector.close()
    assert payloads(collector, "out/cooled") == ["door-2"]


def versioned(text: str) -> str:
    return f"""
- id: echo
  trigger: {{kind: occupancy}}
  actions: [{{publish: {{topic: out/echo, payload: "{text} {{{{ event.attributes.illuminance }}}}"}}}}]
"""


async def test_hot_reload_on_change_keeps_old_rules_when_broken_and_loses_no_event(broker: Mosquitto, tmp_path: Path) -> None:
    path = write_rules(tmp_path / "rules", versioned("one"))
    settings = live_settings(broker, tmp_path, reload_poll_s=0.05)
    collector = Collector(broker.host, broker.port, ["out/#"])
    try:
        async with running_gateway(settings) as runtime:
            rules = runtime.service("rules")
            assert rules is not None
            with Publisher(broker.host, broker.port) as pub:
                await publish(pub, occupancy("shop1", "m1", True))
                assert await wait_for_payloads(collector, "out/echo") == ["one 90"]
                path.write_text(versioned("two"))
                await wait_until(lambda: rules.reloads == 1)
                await publish(pub, occupancy("shop1", "m1", True))
                await wait_for_payloads(collector, "out/echo", 2)
                # A broken edit: reported, and the running rules stay.
                path.write_text(versioned("three").replace("trigger:", "trigger: [", 1))
                await wait_until(lambda: bool(rules.reload_problems))
                assert str(path) in str(rules.reload_problems[0])
                await publish(pub, occupancy("shop1", "m1", True))
                await wait_for_payloads(collector, "out/echo", 3)
                # Reload while a stream of events arrives: every event is decided exactly once.
                for index, version in enumerate(("four", "five", "six")):
                    chunk = [("zigbee2mqtt/shop1/m1", f'{{"occupancy": true, "illuminance": {i}}}') for i in range(index * 100, index * 100 + 100)]
                    sending = asyncio.create_task(asyncio.to_thread(pub.publish_all, chunk))
                    path.write_text(versioned(version))
                    await wait_until(lambda: rules.reloads == 2 + index)
                    await sending
                await publish(pub, occupancy("shop1", "m1", True))
                await wait_for_payloads(collector, "out/echo", 304, timeout=20)
    finally:
        collector.close()
    texts = payloads(collector, "out/echo")
    assert texts[:3] == ["one 90", "two 90", "two 90"]
    assert sorted(int(t.split()[1]) for t in texts[3:303]) == list(range(300))
    assert {t.split()[0] for t in texts[3:303]} <= {"two", "four", "five", "six"}
    assert texts[303] == "six 90" and len(texts) == 304 and rules.reloads == 4


async def test_sighup_reloads(broker: Mosquitto, tmp_path: Path) -> None:
    path = write_rules(tmp_path / "rules", versioned("before"))
    settings = live_settings(broker, tmp_path, reload_poll_s=0)  # no polling: only the signal
    collector = Collector(broker.host, broker.port, ["out/#"])
    try:
        async with running_gateway(settings) as runtime:
            rules = runtime.service("rules")
            assert rules is not None
            path.write_text(versioned("after"))
            await asyncio.sleep(0.3)
            assert rules.reloads == 0
            os.kill(os.getpid(), signal.SIGHUP)
            await wait_until(lambda: rules.reloads == 1)
            with Publisher(broker.host, broker.port) as pub:
                await publish(pub, occupancy("shop1", "m1", True))
                assert await wait_for_payloads(collector, "out/echo") == ["after 90"]
    finally:
        collector.close()
