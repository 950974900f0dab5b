"""The `Part` protocol: how a part (consent, rules, voice, tts, sync, api, ...) plugs into the gateway.

A part is one object. The root (gateway/app.py) finds it through its settings section (the
section model's `part` names it, see gateway/assembly.py), asks it for its CLI commands and its
cheap `check`, and, when it is enabled, calls `build(core, ports)` once, in an order where every
port it `requires` or `uses` was offered by a part built before it. `build` returns what the part
adds to the running gateway (`Built`); it never reaches into another part.

A part module must stay cheap to import (`touchgate check` and the CLI import every part): heavy
libraries (numpy, recognisers, aiohttp) are imported by `build`, and only by an enabled part.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from gateway.config.problems import ConfigProblem
from gateway.model.deadletter import DeadLetterReason
from gateway.model.inbound import InboundMessage
from gateway.ports import CommittedListener, DeadLetterListener, Port, Ports

if TYPE_CHECKING:
    from gateway.config.settings import Settings
    from gateway.ingest import Ingest
    from gateway.metrics import GatewayMetrics
    from gateway.mqtt import MqttClient
    from gateway.store.database import Store

MessageHandler = Callable[[InboundMessage], None]


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """An MQTT subscription a part handles (see MqttClient.route: overlapping routes are refused)."""

    subscription: str
    handler: MessageHandler
    qos: int = 1
    auto_ack: bool = False


@dataclass
class Built:
    """What a part adds to the running gateway."""

    routes: list[RouteSpec] = field(default_factory=list)
    on_committed: list[CommittedListener] = field(default_factory=list)
    on_dead_letters: list[DeadLetterListener] = field(default_factory=list)
    # Coroutines run in the gateway's TaskGroup; one that ends with an error stops the gateway.
    tasks: list[Coroutine[Any, Any, None]] = field(default_factory=list)
    offers: dict[Port[Any], object] = field(default_factory=dict)
    # What tests, the demo and tools may look at (the part's main service object), if anything.
    service: object | None = None


@dataclass(frozen=True)
class Core:
    """What always exists, whatever parts are on: every part may use it."""

    settings: Settings
    store: Store
    mqtt: MqttClient
    ingest: Ingest
    metrics: GatewayMetrics
    # Set once the broker has accepted our subscriptions (announce in gateway/app.py).
    ready: asyncio.Event

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        self.mqtt.publish(topic, payload, qos=qos, retain=retain)

    def dead_letter(self, message: InboundMessage, reason: DeadLetterReason, detail: str) -> None:
        """Store a part's rejected input as a dead letter (acknowledged once committed)."""
        self.ingest.submit_dead_letter(message, reason, detail)


class Part(Protocol):
    name: str
    # The Settings field this part's section is (its `enabled` switches the part where it has one).
    section: str
    requires: tuple[Port[Any], ...]  # refused at start when no enabled part offers one
    uses: tuple[Port[Any], ...]  # used when offered; built after the parts that offer them
    provides: tuple[Port[Any], ...]

    def enabled(self, settings: Settings) -> bool: ...

    def check(self, settings: Settings) -> list[ConfigProblem]:
        """What `touchgate check` can tell without starting (cheap: no models loaded)."""
        ...

    def commands(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Add the part's `touchgate` subcommands (handlers return an exit code)."""
        ...

    async def build(self, core: Core, ports: Ports) -> Built: ...


class PartBase:
    """Defaults for a part: switched by its section's `enabled` (always on without one), nothing
    to check, no commands, no ports."""

    name: str
    section: str
    requires: tuple[Port[Any], ...] = ()
    uses: tuple[Port[Any], ...] = ()
    provides: tuple[Port[Any], ...] = ()

    def enabled(self, settings: Settings) -> bool:
        return bool(getattr(getattr(settings, self.section), "enabled", True))

    def check(self, settings: Settings) -> list[ConfigProblem]:
        return []

    def commands(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        return None
