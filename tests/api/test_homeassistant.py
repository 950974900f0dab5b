"""Home Assistant MQTT discovery of the gateway's own health, through a real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as paho
import yaml

from gateway.config.settings import PROJECT_ROOT
from tests.api.conftest import sample_messages
from tests.support.clients import Collector, Publisher
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto

STATUS = "touchgate/shop1/status"
HEALTH = "touchgate/shop1/health"


def configs(collector: Collector) -> dict[str, dict[str, object]]:
    with collector._lock:  # noqa: SLF001 - test helper reads the collected list
        messages = list(collector.messages)
    return {m.topic: json.loads(m.payload) for m in messages if m.topic.endswith("/config")}


def last_payload(collector: Collector, topic: str) -> bytes | None:
    with collector._lock:  # noqa: SLF001
        found = [m.payload for m in collector.messages if m.topic == topic]
    return bytes(found[-1]) if found else None


async def test_discovery_health_and_availability(broker: Mosquitto, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path, api={"homeassistant": {"interval_s": 1}})
    watcher = Collector(broker.host, broker.port, ["homeassistant/#", "touchgate/shop1/#"], client_id="ha-watch")
    try:
        async with running_gateway(settings) as runtime:
            await asyncio.to_thread(watcher.wait_for, lambda m: m.topic.endswith("online/config"))
            found = configs(watcher)
            node = "touchgate_shop1"
            assert set(found) == {
                f"homeassistant/sensor/{node}/{obj}/config"
                for obj in ("outbox_depth", "outbox_oldest_age", "events_per_minute", "last_sync")
            } | {f"homeassistant/binary_sensor/{node}/online/config"}
            unique_ids = {c["unique_id"] for c in found.values()}
            assert len(unique_ids) == 5
            for topic, config in found.items():
                assert config["device"]["identifiers"] == [node]  # type: ignore[index]
                if "/sensor/" in topic:
                    assert config["state_topic"] == HEALTH and config["availability_topic"] == STATUS
            online = found[f"homeassistant/binary_sensor/{node}/online/config"]
            assert online["state_topic"] == STATUS and online["payload_off"] == "offline"
            assert last_payload(watcher, STATUS) == b"online"

            messages = sample_messages()
            with Publisher(broker.host, broker.port, client_id="ha-pub") as pub:
                await asyncio.to_thread(pub.publish_all, messages)
            await wait_until(lambda: runtime.ingest.counters.stored >= len(messages))
            depth = await runtime.store.call(lambda db: db["outbox"].count)

            def health_matches(m: paho.MQTTMessage) -> bool:
                if m.topic != HEALTH:
                    return False
                doc = json.loads(m.payload)
                return bool(doc["outbox_depth"] == depth and doc["events_per_minute"] == len(messages))

            matching = await asyncio.to_thread(watcher.wait_for, health_matches, 10)
            assert json.loads(matching[-1].payload)["last_sync"] is None  # no central service here

            # Home Assistant restarts: its birth message makes the gateway announce again.
            before = sum(1 for m in watcher.messages if m.topic.endswith("/config"))
            with Publisher(broker.host, broker.port, client_id="ha-birth") as ha:
                await asyncio.to_thread(ha.publish_all, [("homeassistant/status", "online")])
            await wait_until(lambda: sum(1 for m in watcher.messages if m.topic.endswith("/config")) >= before + 5)

        # A clean stop says offline too (a clean DISCONNECT would suppress the will).
        await asyncio.to_thread(watcher.wait_for, lambda m: m.topic == STATUS and m.payload == b"offline")
    finally:
        watcher.close()

    # What a Home Assistant starting later sees: the retained configs and state.
    late = Collector(broker.host, broker.port, ["homeassistant/#", STATUS], client_id="ha-late")
    try:
        await asyncio.to_thread(late.wait_for, lambda m: m.topic == STATUS)
        await wait_until(lambda: len(configs(late)) == 5)
        assert all(m.retain for m in late.messages)
        assert last_payload(late, STATUS) == b"offline"
    finally:
        late.close()


async def test_killed_gateway_goes_offline_through_the_last_will(broker: Mosquitto, tmp_path: Path) -> None:
    config = tmp_path / "touchgate.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "site_id": "shop1",
                "mqtt": {"host": broker.host, "port": broker.port, "client_id": "touchgate-will", "keepalive_s": 5},
                "store": {"path": str(tmp_path / "touchgate.db")},
            }
        )
    )
    watcher = Collector(broker.host, broker.port, [STATUS], client_id="will-watch")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
    )
    try:
        await asyncio.to_thread(watcher.wait_for, lambda m: m.payload == b"online", 20)
        process.send_signal(signal.SIGKILL)  # no goodbye: only the broker's last-will can tell
        process.wait(10)
        await asyncio.to_thread(watcher.wait_for, lambda m: m.payload == b"offline", 15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        watcher.close()
    output = process.stdout.read().decode() if process.stdout else ""
    first = json.loads(output.splitlines()[0])
    assert {"ts", "level", "logger", "msg"} <= set(first), output[:500]
