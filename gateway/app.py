"""The composition root: builds every part from Settings and runs them in one TaskGroup.

Only this module knows all the parts. Each part offers a `build_*` function that takes the
`Runtime` (the shared adapters) and returns the coroutines it needs running.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.config.problems import ConfigError
from gateway.config.settings import Settings
from gateway.consent.service import ConsentService
from gateway.devices.normalise import Normaliser, TimeWindow
from gateway.devices.registry import load_profiles
from gateway.ingest import Ingest
from gateway.metrics import GatewayMetrics
from gateway.model.deadletter import DeadLetterReason
from gateway.model.gate import ConsentGate, NoConsents, StrictGate
from gateway.mqtt import MqttClient, Will
from gateway.rules.service import RulesEngine
from gateway.store import Store

if TYPE_CHECKING:  # the voice part (numpy, recognisers) is imported only when it is built
    from gateway.sync.part import SyncParts
    from gateway.tts.service import TtsService
    from gateway.voice.service import VoiceService

log = logging.getLogger(__name__)

# Each part's builder, as "module:function", with the settings section whose `enabled` switches
# it (None: always built). A builder is `async def build(runtime) -> None`: it adds MQTT routes
# and ingest listeners, and appends the coroutines it needs to `runtime.tasks`. A part that is
# switched off is not even imported, so a shop without speakers carries no speech libraries.
# Order matters where parts depend on each other (consent before rules and sync).
PART_BUILDERS: tuple[tuple[str, str | None], ...] = (
    ("gateway.consent.part:build", None),
    ("gateway.sync.part:build", None),
    ("gateway.systemd:build", None),
    ("gateway.tts.part:build", "tts"),
    ("gateway.rules.part:build", "rules"),
    ("gateway.voice.part:build", "voice"),
    # Last: it serves what the parts above attached to the Runtime. Always built: Home Assistant
    # discovery and the metrics live there too, and it starts its HTTP server only if enabled.
    ("gateway.api.part:build", None),
)

PartBuilder = Callable[["Runtime"], Awaitable[None]]


@dataclass
class Runtime:
    """The adapters and core parts that other parts plug into."""

    settings: Settings
    store: Store
    mqtt: MqttClient
    normaliser: Normaliser
    ingest: Ingest
    gate: ConsentGate
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[Coroutine[Any, Any, None]] = field(default_factory=list)
    # Telemetry every part reports into (its own registry, no global one): gateway.metrics.
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)
    # The consent ledger, erasure and export (set by gateway.consent.part; None until it is built).
    consents: ConsentService | None = None
    # The rules engine (set by gateway.rules.part): the voice part calls
    # `runtime.rules.on_intent(site, intent_name, slots, customer_id)` for recognised intents.
    rules: RulesEngine | None = None
    # The voice service (set by gateway.voice.part): Hermes sessions, recognition, skills.
    voice: VoiceService | None = None
    # The text-to-speech service (set by gateway.tts.part): the dialogue manager speaks through it.
    tts: TtsService | None = None
    # The sync part's sender, puller and erasure sender (set by gateway.sync.part once its task
    # runs with a sync.url): the API reads the central link's state from it.
    sync: SyncParts | None = None


def status_topic(settings: Settings) -> str:
    return f"touchgate/{settings.site_id}/status"


async def build_runtime(settings: Settings) -> Runtime:
    profiles, problems = load_profiles(settings.device_profiles_dir)
    if problems:
        raise ConfigError(problems)
    normaliser = Normaliser(
        profiles,
        settings.site_id,
        settings.ingest.max_payload_bytes,
        settings.store.dead_letter_raw_cap,
        TimeWindow.years(settings.ingest.device_time_min_year, settings.ingest.device_time_max_year),
    )
    store = await Store.open(settings.store.path)
    mqtt = MqttClient(settings.mqtt, will=Will(status_topic(settings), b"offline"))
    gate: ConsentGate = StrictGate(NoConsents())
    ingest = Ingest(store, normaliser, gate, mqtt.ack, settings.store.batch_max)
    # A part's handler that raises on some input: that input is dead-lettered, the rest goes on.
    mqtt.on_handler_error = lambda message, exc: ingest.submit_dead_letter(
        message, DeadLetterReason.HANDLER_FAILED, f"{type(exc).__name__}: {exc}"
    )
    runtime = Runtime(settings, store, mqtt, normaliser, ingest, gate)
    try:
        for spec, switch in PART_BUILDERS:
            if switch is not None and not getattr(settings, switch).enabled:
                continue
            module_name, _, function_name = spec.partition(":")
            builder: PartBuilder = getattr(importlib.import_module(module_name), function_name)
            await builder(runtime)
    except BaseException:
        # A later part refused (e.g. bad config): the coroutines earlier parts queued never run.
        for pending in runtime.tasks:
            pending.close()
        await store.close()
        raise
    # Sensor routes last: parts' own topics (hermes/#, consent events) are matched first.
    for subscription in normaliser.subscriptions:
        mqtt.route(subscription, ingest.submit)
    return runtime


async def run_gateway(settings: Settings) -> None:
    """Build every part and run until cancelled."""
    await serve(await build_runtime(settings))


async def serve(runtime: Runtime) -> None:
    """Run the parts until cancelled; `runtime.ready` is set once the broker has accepted our
    subscriptions (from then on it keeps our QoS 1 messages even while we are away)."""
    settings = runtime.settings

    def announce() -> None:
        runtime.mqtt.publish(status_topic(settings), b"online", qos=1, retain=True)
        if not runtime.ready.is_set():
            log.info("ready", extra={"fields": {"event": "ready", "site": settings.site_id}})
            # Everything built at start (models, grammars, rules) lives for the whole run: moving
            # it out of the collector's generations keeps full collections from pausing the event
            # loop for milliseconds on the ingest path.
            gc.freeze()
        runtime.ready.set()


    runtime.mqtt.on_connected.append(announce)
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(runtime.mqtt.run(), name="mqtt")
            group.create_task(runtime.ingest.run(), name="ingest")
            group.create_task(runtime.store.checkpoint_forever(), name="store-checkpoint")
            for index, task in enumerate(runtime.tasks):
                group.create_task(task, name=f"part-{index}")
    finally:
        await runtime.store.close()
