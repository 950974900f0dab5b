"""Runs the demo: broker, gateway, simulated shop, and a console that shows what happens."""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
from pathlib import Path

from gateway.app import build_runtime, serve
from gateway.cli import run_until_signalled, settings_or_exit
from gateway.config.settings import Settings
from gateway.demo.broker import BrokerChoice, demo_broker
from gateway.demo.console import Console
from gateway.demo.shop import simulate_shop
from gateway.logs import setup_logging
from gateway.mqtt import MqttClient

# Where the simulated shop's actions are shown: displays, staff pagers, speakers.
ACTION_TOPICS = ("touchgate/+/display/#", "touchgate/+/staff", "hermes/tts/say", "touchgate/+/status")


def run_demo(config: Path | None, duration_s: float | None = None, broker: BrokerChoice = "auto") -> int:
    settings = settings_or_exit(config)
    setup_logging("WARNING")
    data_dir = Path(tempfile.mkdtemp(prefix="touchgate-demo-"))
    if config is None:
        settings = settings.model_copy(
            update={"site_id": "shop1", "store": settings.store.model_copy(update={"path": data_dir / "touchgate.db"})}
        )
    console = Console(sys.stdout)
    run_until_signalled(lambda: _demo(settings, console, duration_s, broker))
    console.summary(settings.store.path)
    return 0


async def _demo(settings: Settings, console: Console, duration_s: float | None, choice: BrokerChoice) -> None:
    async with demo_broker(settings.mqtt.host, settings.mqtt.port, choice) as broker:
        mqtt_settings = settings.mqtt.model_copy(update={"host": broker.host, "port": broker.port, "protocol": broker.protocol})
        settings = settings.model_copy(update={"mqtt": mqtt_settings})
        console.banner(broker.kind, settings)
        runtime = await build_runtime(settings)
        runtime.ingest.on_committed.append(console.events)
        runtime.ingest.on_dead_letters.append(console.dead_letters)
        shop = MqttClient(mqtt_settings.model_copy(update={"client_id": f"demo-shop-{settings.site_id}"}))
        for topic in ACTION_TOPICS:
            shop.route(topic, console.action, qos=1, auto_ack=True)
        async with asyncio.TaskGroup() as group:
            gateway_task = group.create_task(serve(runtime))
            shop_task = group.create_task(shop.run())
            await runtime.ready.wait()
            await shop.wait_connected()
            console.line("ready", "the simulated shop starts publishing (Ctrl-C to stop)")
            sim = group.create_task(simulate_shop(shop.publish, settings.site_id, random.Random(42)))
            if duration_s is not None:
                await asyncio.sleep(duration_s)
                for task in (sim, shop_task, gateway_task):
                    task.cancel()
