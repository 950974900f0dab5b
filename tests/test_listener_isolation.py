"""A listener's failure is logged and counted, never fatal: each kind of listener is plugged, failing,
into the real gateway (real Mosquitto, real SQLite, the real profile service for sync), and the
test waits for the positive signal that the gateway went on (the next event stored, the health
document published, the batch accepted upstream, the session answered) and for the counter."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.app import build_gateway, serve
from gateway.waiting import within
from tests.reliability.support import assert_alive
from tests.support.clients import Collector, Publisher
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto
from tests.sync.conftest import Central, run_central, sync_config, sync_parts
from tests.sync.shop import occupancy, outbox_count, publish
from tests.voice.support import HermesClient, frames, utterances

MOTION = "zigbee2mqtt/shop1/entrance-motion"


class ListenerBroke(RuntimeError):
    pass


def failing(*_: object, **__: object) -> None:
    raise ListenerBroke("a listener that always fails")


async def send(broker: Mosquitto, topic: str, payload: str) -> None:
    def go() -> None:
        with Publisher(broker.host, broker.port, client_id="listener-test") as pub:
            pub.publish_all([(topic, payload)])

    await asyncio.to_thread(go)


async def test_failing_ingest_listeners_do_not_stop_ingest(broker: Mosquitto, tmp_path: Path) -> None:
    async with running_gateway(gateway_settings(broker, tmp_path, voice={"enabled": False}, tts={"enabled": False})) as runtime:
        ingest = runtime.ingest
        ingest.on_committed.append(failing)
        ingest.on_dead_letters.append(failing)
        seen: list[str] = []
        ingest.on_committed.append(lambda events: seen.extend(e.device for e in events))  # after the failing one
        await send(broker, MOTION, json.dumps({"occupancy": True}))
        await wait_until(lambda: seen == ["entrance-motion"])
        await send(broker, MOTION, "{not json")
        await wait_until(lambda: ingest.counters.dead_letters == 1)
        await send(broker, MOTION, json.dumps({"occupancy": False}))
        await wait_until(lambda: seen == ["entrance-motion"] * 2)
        assert ingest.counters.listener_failures == 3  # two committed batches, one dead letter
        assert ingest.counters.stored == 2 and ingest.counters.in_flight() == 0
        assert_alive(runtime)


async def test_failing_connected_callback_still_makes_the_gateway_ready(broker: Mosquitto, tmp_path: Path) -> None:
    runtime = await build_gateway(gateway_settings(broker, tmp_path, voice={"enabled": False}, tts={"enabled": False}))
    runtime.mqtt.on_connected.append(failing)  # before the gateway's own ready callback
    task = asyncio.create_task(serve(runtime))
    try:
        await within(runtime.ready.wait(), 10)
        assert runtime.mqtt.on_connected.failures == 1
        stored = runtime.ingest.counters.stored
        await send(broker, MOTION, json.dumps({"occupancy": True}))
        await wait_until(lambda: runtime.ingest.counters.stored == stored + 1)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_failing_health_report_is_retried_by_home_assistant_announcer(
    broker: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = gateway_settings(
        broker, tmp_path, voice={"enabled": False}, tts={"enabled": False},
        api={"homeassistant": {"enabled": True, "interval_s": 300}},
    )
    health = Collector(broker.host, broker.port, ["touchgate/shop1/health"], client_id="ha-watch")
    runtime = await build_gateway(settings)
    metrics = runtime.core.metrics
    real_snapshot = metrics.store_snapshot
    calls = 0

    def fails_once(snapshot: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ListenerBroke("metrics could not take the snapshot")
        real_snapshot(snapshot)  # type: ignore[arg-type]

    metrics.store_snapshot = fails_once  # type: ignore[method-assign]
    task = asyncio.create_task(serve(runtime))
    try:
        await within(runtime.ready.wait(), 10)
        await wait_until(lambda: calls >= 1)
        # Home Assistant comes online: discovery is announced again and health published at once.
        await send(broker, "homeassistant/status", "online")
        await asyncio.to_thread(health.wait_for, lambda m: "outbox_depth" in json.loads(m.payload), 20.0)
        assert calls >= 2
        assert any("health document not published" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
        assert not task.done()
    finally:
        health.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
def sqlite_central(tmp_path: Path) -> Iterator[Central]:
    yield from run_central(tmp_path)


async def test_failing_sync_report_listener_does_not_stop_sending(broker: Mosquitto, sqlite_central: Central, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path, sync=sync_config(sqlite_central.url), voice={"enabled": False}, tts={"enabled": False})
    async with running_gateway(settings) as runtime:
        sender = sync_parts(runtime).sender
        sender.on_settled.append(failing)
        await asyncio.to_thread(publish, broker.host, broker.port, [occupancy(n) for n in range(3)])
        await wait_until(lambda: runtime.ingest.counters.stored == 3)
        await wait_until(lambda: outbox_count(settings.store.path) == 0, timeout=20)
        failures = sender.on_settled.failures
        assert failures >= 1
        # Still sending: the next events leave the outbox too, and the listener failed again.
        await asyncio.to_thread(publish, broker.host, broker.port, [occupancy(n) for n in range(3, 5)])
        await wait_until(lambda: runtime.ingest.counters.stored == 5)
        await wait_until(lambda: outbox_count(settings.store.path) == 0 and sender.on_settled.failures > failures, timeout=20)
    assert len(sqlite_central.event_ids()) == 5


async def test_failing_voice_listeners_do_not_stop_the_turn(broker: Mosquitto, tmp_path: Path) -> None:
    utterance = next(u for u in utterances("en") if u.name == "en_hours_1")
    client = HermesClient(broker.host, broker.port)
    try:
        async with running_gateway(gateway_settings(broker, tmp_path), timeout=60) as runtime:
            voice = runtime.service("voice")
            voice.on_intent.append(failing)
            voice.on_turn.append(failing)
            session = await asyncio.to_thread(client.start_session, "kitchen")
            await asyncio.to_thread(client.stream, "kitchen", frames(utterance.pcm()))
            # The turn went on past both listeners: the skill answered and the session ended.
            say = await asyncio.to_thread(client.json_on, "hermes/tts/say", 20.0, sessionId=session)
            assert say["text"]
            await asyncio.to_thread(client.json_on, "hermes/dialogueManager/sessionEnded", 20.0, sessionId=session)
            await wait_until(lambda: voice.on_turn.failures == 1)
            assert voice.on_intent.failures == 1
            # The metrics listener before the failing one still counted the turn.
            assert runtime.core.metrics.voice_turns and runtime.core.metrics.voice_turns[0].intent == utterance.intent
            assert_alive(runtime)
    finally:
        client.close()
