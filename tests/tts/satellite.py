"""A Rhasspy-satellite-like MQTT client for tests: collects what the gateway sends to a site and
answers playFinished the way a Hermes audio server does."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import paho.mqtt.client as paho

from gateway.hermes.playback import parse_play_bytes_topic, play_finished_topic
from gateway.hermes.tts import TTS_ERROR, TTS_SAY, TTS_SAY_FINISHED
from tests.support.clients import Collector, Publisher


class Satellite:
    def __init__(self, host: str, port: int, name: str = "satellite") -> None:
        self.collector = Collector(
            host, port, ["hermes/audioServer/+/playBytes/+", TTS_SAY_FINISHED, TTS_ERROR], client_id=f"{name}-in"
        )
        self.publisher = Publisher(host, port, client_id=f"{name}-out")

    def say(self, **fields: Any) -> float:
        """Publish hermes/tts/say; returns the time it was sent."""
        sent = time.monotonic()
        self.publisher.publish(TTS_SAY, json.dumps(fields)).wait_for_publish(5)
        return sent

    def play_finished(self, site_id: str, request_id: str, session_id: str | None = None) -> None:
        body = {"id": request_id, "siteId": site_id, "sessionId": session_id}
        self.publisher.publish(play_finished_topic(site_id), json.dumps(body)).wait_for_publish(5)

    def play_bytes(self, site_id: str | None = None) -> list[paho.MQTTMessage]:
        found = []
        for message in self.snapshot():
            parsed = parse_play_bytes_topic(message.topic)
            if parsed is not None and (site_id is None or parsed[0] == site_id):
                found.append(message)
        return found

    def json_on(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(m.payload) for m in self.snapshot() if m.topic == topic]

    def snapshot(self) -> list[paho.MQTTMessage]:
        with self.collector._lock:
            return list(self.collector.messages)

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        """Poll without blocking the event loop (the gateway runs in the same loop)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met in {timeout}s; got {[m.topic for m in self.snapshot()]}")
            await asyncio.sleep(0.005)

    def close(self) -> None:
        # Disconnect first: paho's loop thread then ends at once instead of after its select timeout.
        for client in (self.collector.client, self.publisher.client):
            client.disconnect()
            client.loop_stop()
