"""Runs the demo: broker, gateway, simulated shop, and a console that shows what happens."""

from __future__ import annotations

import asyncio
import random
import secrets
import socket
import sys
import tempfile
from pathlib import Path

from pydantic import SecretStr

from gateway.app import build_gateway, serve
from gateway.commandline import run_until_signalled, settings_or_exit
from gateway.config.settings import Settings
from gateway.demo.broker import BrokerChoice, demo_broker
from gateway.demo.central import demo_central_service
from gateway.demo.console import Console
from gateway.demo.shop import simulate_shop
from gateway.demo.zones_shop import simulate_zones
from gateway.logs import setup_logging
from gateway.mqtt import MqttClient
from gateway.voice.demo_speaker import DemoSpeaker
from gateway.store import Store
from gateway.store.sync_state import read_counters

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
    async with (
        demo_broker(settings.mqtt.host, settings.mqtt.port, choice) as broker,
        demo_central_service(settings.site_id, settings.store.path.parent) as central,
    ):
        mqtt_settings = settings.mqtt.model_copy(update={"host": broker.host, "port": broker.port, "protocol": broker.protocol})
        sync_settings = settings.sync.model_copy(
            update={"url": central.url, "token": SecretStr(central.token), "poll_interval_s": 5.0, "linger_s": 1.0}
        )
        settings = settings.model_copy(update={"mqtt": mqtt_settings, "sync": sync_settings, **_status_page(settings)})
        console.banner(broker.kind, settings)
        console.line("demo", f"central profile service: {central.url} (seeded with the demo customers)")
        runtime = await build_gateway(settings)
        runtime.ingest.on_committed.append(console.events)
        runtime.ingest.on_dead_letters.append(console.dead_letters)
        shop = MqttClient(mqtt_settings.model_copy(update={"client_id": f"demo-shop-{settings.site_id}"}))
        for topic in ACTION_TOPICS:
            shop.route(topic, console.action, qos=1, auto_ack=True)
        # A smart speaker at the entrance: wake word, then recorded utterances over Hermes.
        # Its replies (playBytes) are saved in the demo's data folder, played where there is a sound card.
        speaker = DemoSpeaker(shop.publish, "entrance", console.line, settings.store.path.parent / "speaker-replies")
        speaker.attach(shop)
        async with asyncio.TaskGroup() as group:
            gateway_task = group.create_task(serve(runtime))
            shop_task = group.create_task(shop.run())
            await runtime.ready.wait()
            await shop.wait_connected()
            console.line("ready", "the simulated shop starts publishing (Ctrl-C to stop)")
            sim = group.create_task(simulate_shop(shop.publish, settings.site_id, random.Random(42)))
            people = group.create_task(simulate_zones(shop.publish, settings.site_id, random.Random(19)))
            api = settings.api
            if api.enabled and api.login_code is not None:
                console.line(
                    "status",
                    f"status page: http://{api.host}:{api.port}/login?code={api.login_code.get_secret_value()}"
                    " (a one-time login link; zone plots fill in minute by minute)",
                )
            status = group.create_task(_report_sync(runtime.store, console))
            talk = group.create_task(speaker.run())
            if duration_s is not None:
                await asyncio.sleep(duration_s)
                for task in (sim, people, status, talk, shop_task, gateway_task):
                    task.cancel()


def _status_page(settings: Settings) -> dict[str, object]:
    """The status page on loopback with a fresh token and a one-time login link, and the example
    shop's zone roles, so a newcomer sees the figures move (unless a config set the API up)."""
    if settings.api.enabled:
        return {}
    api = settings.api.model_copy(
        update={
            "enabled": True, "host": "127.0.0.1", "port": _free_port(), "token": SecretStr(secrets.token_urlsafe(24)),
            "login_code": SecretStr(secrets.token_urlsafe(24)), "status_refresh_s": 2.0,
        }
    )
    roles = {"entrance": "entrance", "checkout": "checkout", "coffee_shelf": "aisle", "fitting_rooms": "fitting_room"}
    analytics = settings.analytics.model_validate(
        {**settings.analytics.model_dump(), "zones": {zone: {"role": role} for zone, role in roles.items()}}
    )
    return {"api": api, "analytics": analytics}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _report_sync(store: Store, console: Console, every_s: float = 5.0) -> None:
    """Every few seconds: how much went to the central service and how much still waits."""
    while True:
        await asyncio.sleep(every_s)
        queued = await store.call(lambda db: db["outbox"].count)
        counters = await store.call(read_counters)
        console.line(
            "sync",
            f"sent to the central service: {counters.get('sent', 0)}, queued: {queued},"
            f" changes pulled: {counters.get('changes_applied', 0)}",
        )
