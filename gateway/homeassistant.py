"""Home Assistant MQTT discovery for the gateway's own health.

Announces (retained) sensors under `<prefix>/sensor/touchgate_<site>/…/config` and a connectivity
binary sensor, all tied to one HA device and made available/unavailable by the retained
`touchgate/<site>/status` topic, whose "offline" is the MQTT last-will the spine sets. A Home
Assistant on the same broker shows the gateway with no configuration. The health values are
published (retained) as one JSON document every `interval_s`, and discovery is re-sent whenever
Home Assistant announces itself online (its birth message on `<prefix>/status`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from gateway.metrics import GatewayMetrics, StoreSnapshot
from gateway.model.inbound import InboundMessage
from gateway.mqtt import MqttClient
from gateway.waiting import wait_set

log = logging.getLogger(__name__)

SnapshotReader = Callable[[], Awaitable[StoreSnapshot]]


def node_id(site: str) -> str:
    """HA allows [a-zA-Z0-9_-] in discovery ids; site ids may also hold dots."""
    return "touchgate_" + re.sub(r"[^A-Za-z0-9_-]", "_", site)


class HealthTopics:
    def __init__(self, prefix: str, site: str) -> None:
        self.prefix = prefix
        self.node = node_id(site)
        self.status = f"touchgate/{site}/status"
        self.health = f"touchgate/{site}/health"
        self.ha_birth = f"{prefix}/status"

    def config(self, component: str, object_id: str) -> str:
        return f"{self.prefix}/{component}/{self.node}/{object_id}/config"


# (object id, name, unit, device class, state class, icon, value template)
SENSORS: tuple[tuple[str, str, str | None, str | None, str | None, str, str], ...] = (
    ("outbox_depth", "Outbox depth", "events", None, "measurement", "mdi:tray-full", "{{ value_json.outbox_depth }}"),
    (
        "outbox_oldest_age",
        "Oldest event in outbox",
        "s",
        "duration",
        "measurement",
        "mdi:timer-sand",
        "{{ value_json.outbox_oldest_age_s }}",
    ),
    ("events_per_minute", "Events per minute", "events/min", None, "measurement", "mdi:pulse", "{{ value_json.events_per_minute }}"),
    ("last_sync", "Last sync", None, "timestamp", None, "mdi:cloud-sync", "{{ value_json.last_sync }}"),
)


def discovery_messages(topics: HealthTopics, site: str, version: str) -> list[tuple[str, dict[str, Any]]]:
    device = {
        "identifiers": [topics.node],
        "name": f"Touchgate {site}",
        "manufacturer": "Touchgate",
        "model": "edge gateway",
        "sw_version": version,
    }
    availability = {"availability_topic": topics.status, "payload_available": "online", "payload_not_available": "offline"}
    messages: list[tuple[str, dict[str, Any]]] = []
    for object_id, name, unit, device_class, state_class, icon, template in SENSORS:
        config: dict[str, Any] = {
            "name": name,
            "unique_id": f"{topics.node}_{object_id}",
            "state_topic": topics.health,
            "value_template": template,
            "icon": icon,
            "device": device,
            **availability,
        }
        if unit:
            config["unit_of_measurement"] = unit
        if device_class:
            config["device_class"] = device_class
        if state_class:
            config["state_class"] = state_class
        messages.append((topics.config("sensor", object_id), config))
    messages.append(
        (
            topics.config("binary_sensor", "online"),
            {
                "name": "Online",
                "unique_id": f"{topics.node}_online",
                "state_topic": topics.status,
                "payload_on": "online",
                "payload_off": "offline",
                "device_class": "connectivity",
                "device": device,
            },
        )
    )
    return messages


def health_document(snapshot: StoreSnapshot, last_sync_at: float | None) -> dict[str, Any]:
    return {
        "outbox_depth": snapshot.outbox_depth,
        "outbox_oldest_age_s": round(snapshot.outbox_oldest_age_s or 0.0, 1),
        "events_per_minute": snapshot.events_last_minute,
        "last_sync": None if last_sync_at is None else datetime.fromtimestamp(last_sync_at, UTC).isoformat(),
    }


class HomeAssistantAnnouncer:
    def __init__(
        self,
        mqtt: MqttClient,
        metrics: GatewayMetrics,
        read_snapshot: SnapshotReader,
        last_sync: Callable[[], float | None],
        site: str,
        version: str,
        prefix: str = "homeassistant",
        interval_s: float = 30.0,
    ) -> None:
        self._mqtt = mqtt
        self._metrics = metrics
        self._read_snapshot = read_snapshot
        self._last_sync = last_sync
        self._site = site
        self._version = version
        self._interval_s = interval_s
        self.topics = HealthTopics(prefix, site)
        self._publish_now = asyncio.Event()
        # Health documents not published (the store unreadable a moment, a metrics fault): counted,
        # logged, tried again at the next interval; Home Assistant is told, never in charge.
        self.failures = 0
        self.published = 0

    def attach(self) -> None:
        """Routes and callbacks; call before the MQTT client runs."""
        self._mqtt.route(self.topics.ha_birth, self._on_ha_status, qos=1, auto_ack=True)
        self._mqtt.on_connected.append(self.announce)

    def announce(self) -> None:
        for topic, config in discovery_messages(self.topics, self._site, self._version):
            self._mqtt.publish(topic, json.dumps(config, separators=(",", ":")), qos=1, retain=True)
        self._publish_now.set()
        log.info("home assistant discovery announced", extra={"fields": {"event": "ha_discovery", "node": self.topics.node}})

    def _on_ha_status(self, message: InboundMessage) -> None:
        if message.payload.strip() == b"online":
            self.announce()

    async def run(self) -> None:
        """Publish the health document every interval (and at once after each announce)."""
        while True:
            self._publish_now.clear()
            try:
                await self._publish_health()
            except Exception:  # noqa: BLE001 - isolation boundary: one failed health report, not the gateway
                self.failures += 1
                log.exception("home assistant health document not published; trying again in %.0fs", self._interval_s)
            await wait_set(self._publish_now, self._interval_s)

    async def _publish_health(self) -> None:
        snapshot = await self._read_snapshot()
        self._metrics.store_snapshot(snapshot)
        document = health_document(snapshot, self._last_sync())
        self._mqtt.publish(self.topics.health, json.dumps(document), qos=1, retain=True)
        self.published += 1
