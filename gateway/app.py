"""The composition root: builds the core and every enabled part from Settings, runs them in one
TaskGroup.

Only this module wires parts together, and only through what they declare: each part's
`build(core, ports)` gets the ports of the parts built before it (gateway/assembly.py orders them)
and returns its routes, listeners, tasks and offers (gateway/part.py). Sensor routes are the
ingest's and yield to the parts' own topics explicitly (`fallback`, gateway/mqtt.py).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.assembly import enabled_parts
from gateway.config.problems import ConfigError
from gateway.config.settings import Settings
from gateway.devices.identifiers import DailyAnonymiser, DeviceIdentifiers
from gateway.devices.normalise import Normaliser, TimeWindow
from gateway.devices.registry import load_profiles
from gateway.ingest import Ingest
from gateway.metrics import GatewayMetrics
from gateway.model.deadletter import DeadLetterReason
from gateway.model.gate import NoConsents, StrictGate
from gateway.model.inbound import InboundMessage
from gateway.mqtt import MqttClient, Will
from gateway.part import Built, Core, Part
from gateway.ports import CONSENT_GATE, PSEUDONYMISE, Ports
from gateway.store import Store
from gateway.store.dead_letter_rows import screen_legacy_dead_letters
from gateway.systemd import NotifyConfig, notify_loop

log = logging.getLogger(__name__)


@dataclass
class Gateway:
    """A built gateway: the core, and what each enabled part built (by part name)."""

    core: Core
    normaliser: Normaliser
    built: dict[str, Built]
    ports: Ports
    tasks: list[Coroutine[Any, Any, None]] = field(default_factory=list)

    # The core's adapters, by name (tests, the demo and the benchmarks look at them).
    @property
    def settings(self) -> Settings:
        return self.core.settings

    @property
    def store(self) -> Store:
        return self.core.store

    @property
    def mqtt(self) -> MqttClient:
        return self.core.mqtt

    @property
    def ingest(self) -> Ingest:
        return self.core.ingest

    @property
    def metrics(self) -> GatewayMetrics:
        return self.core.metrics

    @property
    def ready(self) -> asyncio.Event:
        return self.core.ready

    def service(self, part_name: str) -> Any:
        """The main service object of a part (None when the part is off or has none)."""
        built = self.built.get(part_name)
        return None if built is None else built.service


def status_topic(settings: Settings) -> str:
    return f"touchgate/{settings.site_id}/status"


async def build_gateway(settings: Settings, parts: Sequence[Part] | None = None) -> Gateway:
    """The core and every enabled part (`parts`: all of them by default); ConfigError with what
    is missing or misconfigured. Nothing runs yet: `serve` runs it."""
    profiles, problems = load_profiles(settings.device_profiles_dir)
    if problems:
        raise ConfigError(problems)
    ordered = enabled_parts(settings, parts)  # before anything is opened: a missing port costs nothing
    normaliser = Normaliser(
        profiles,
        settings.site_id,
        settings.ingest.max_payload_bytes,
        settings.store.dead_letter_raw_cap,
        TimeWindow.years(settings.ingest.device_time_min_year, settings.ingest.device_time_max_year),
        DeviceIdentifiers(
            profiles, settings.ingest.own_beacons, DailyAnonymiser(settings.analytics.timezone or settings.rules.timezone)
        ),
    )
    store = await Store.open(settings.store.path)
    mqtt = MqttClient(settings.mqtt, will=Will(status_topic(settings), b"offline"))
    ingest = Ingest(store, normaliser, StrictGate(NoConsents()), mqtt.ack, settings.store.batch_max)
    # A part's handler that raises on some input: that input is dead-lettered, the rest goes on.
    mqtt.on_handler_error = lambda message, exc: ingest.submit_dead_letter(
        message, DeadLetterReason.HANDLER_FAILED, f"{type(exc).__name__}: {exc}"
    )
    core = Core(settings, store, mqtt, ingest, GatewayMetrics(), asyncio.Event())
    gateway = Gateway(core, normaliser, {}, Ports())
    try:
        for part in ordered:
            built = await part.build(core, gateway.ports)
            gateway.built[part.name] = built
            gateway.ports = gateway.ports.with_offers(built.offers)
            for route in built.routes:
                mqtt.route(route.subscription, route.handler, qos=route.qos, auto_ack=route.auto_ack)
            ingest.on_committed.extend(built.on_committed)
            ingest.on_dead_letters.extend(built.on_dead_letters)
            gateway.tasks.extend(built.tasks)
        # Without a consent part nothing personal is ever consented: the strict gate of no consents.
        gate = gateway.ports.optional(CONSENT_GATE)
        if gate is not None:
            ingest.gate = gate
        # Dead letters name customers by the consent part's pseudonym (erasure finds them by it);
        # rows kept before dead letters did are screened once, before anything reads them.
        pseudonymise = gateway.ports.optional(PSEUDONYMISE)
        if pseudonymise is not None:
            normaliser.redactor.use_pseudonyms(pseudonymise)
        await store.call(lambda db: screen_legacy_dead_letters(db, normaliser.redact))
        # Sensor topics are the ingest's; a part's own topic that overlaps one wins (fallback).
        # A stranger's device id is anonymised before ingest (its quarantine, logs) sees it.
        admit, submit = normaliser.admit, ingest.submit

        def admitted(message: InboundMessage) -> None:
            submit(admit(message))

        for subscription in normaliser.subscriptions:
            mqtt.route(subscription, admitted, fallback=True)
    except BaseException:
        # A later part refused (e.g. bad config): the coroutines earlier parts returned never run.
        for pending in gateway.tasks:
            pending.close()
        await store.close()
        raise
    return gateway


async def run_gateway(settings: Settings) -> None:
    """Build every part and run until cancelled."""
    await serve(await build_gateway(settings))


async def serve(gateway: Gateway) -> None:
    """Run the parts until cancelled; `gateway.ready` is set once the broker has accepted our
    subscriptions (from then on it keeps our QoS 1 messages even while we are away)."""
    settings, ready, mqtt = gateway.settings, gateway.ready, gateway.mqtt

    def announce() -> None:
        mqtt.publish(status_topic(settings), b"online", qos=1, retain=True)
        if not ready.is_set():
            log.info("ready", extra={"fields": {"event": "ready", "site": settings.site_id}})
            # Everything built at start (models, grammars, rules) lives for the whole run: moving
            # it out of the collector's generations keeps full collections from pausing the event
            # loop for milliseconds on the ingest path.
            gc.freeze()
        ready.set()

    mqtt.on_connected.append(announce)
    notify = NotifyConfig.from_environment(os.environ)  # systemd's Type=notify, when it started us
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(mqtt.run(), name="mqtt")
            group.create_task(gateway.ingest.run(), name="ingest")
            group.create_task(gateway.store.checkpoint_forever(), name="store-checkpoint")
            if notify is not None:
                group.create_task(notify_loop(ready, settings.site_id, notify), name="systemd")
            for index, task in enumerate(gateway.tasks):
                group.create_task(task, name=f"part-{index}")
    finally:
        await gateway.store.close()
