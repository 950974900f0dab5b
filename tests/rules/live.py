"""Helpers for the rules tests that run the whole gateway against a real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho

from gateway.config.settings import Settings
from gateway.store.database import connect
from gateway.store.profiles import merge_profile_attributes
from tests.support.clients import Collector, Publisher
from tests.support.gateway import gateway_settings
from tests.support.mosquitto import Mosquitto


def live_settings(broker: Mosquitto, tmp_path: Path, **rules: Any) -> Settings:
    return gateway_settings(broker, tmp_path, rules={"dir": tmp_path / "rules", "timezone": "UTC", **rules})


def seed_profiles(settings: Settings, profiles: dict[str, dict[str, Any]]) -> None:
    db = connect(settings.store.path)
    for customer, attributes in profiles.items():
        merge_profile_attributes(db, customer, attributes, time.time())
    db.conn.close()


def card_tap(site: str, uid: str) -> tuple[str, str]:
    return f"tele/cardreader_{site}/SENSOR", json.dumps({"Time": "2026-11-28T10:00:00", "PN532": {"UID": uid, "DATA": ""}})


def occupancy(site: str, device: str, occupied: bool) -> tuple[str, str]:
    return f"zigbee2mqtt/{site}/{device}", json.dumps({"occupancy": occupied, "battery": 90, "illuminance": 90})


def footfall(site: str, device: str, period_in: int) -> tuple[str, str]:
    return f"milesight/{site}/{device}/uplink", json.dumps({"line_1_period_in": period_in, "line_1_period_out": 0})


def consent(customer: str, *purposes: str, site: str = "shop1") -> tuple[str, str]:
    return f"touchgate/{site}/consent", json.dumps({"customer_id": customer, "purposes": list(purposes), "status": "granted"})


async def publish(pub: Publisher, *messages: tuple[str, str]) -> None:
    await asyncio.to_thread(pub.publish_all, list(messages))


def payloads(collector: Collector, topic: str) -> list[Any]:
    with collector._lock:  # noqa: SLF001 - the collector's own lock guards its list
        found = [m for m in collector.messages if paho.topic_matches_sub(topic, m.topic)]
    return [json.loads(m.payload) if m.payload[:1] in (b"{", b"[") else m.payload.decode() for m in found]


async def wait_for_payloads(collector: Collector, topic: str, count: int = 1, timeout: float = 10) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = payloads(collector, topic)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)
    raise TimeoutError(f"{count} message(s) on {topic} did not arrive; got {payloads(collector, topic)}")
