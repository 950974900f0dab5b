"""What the API handlers see of the gateway: a narrow view, built by the api part from the core and the ports."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gateway.api.auth import Authenticator
from gateway.api.services import OperatorServices
from gateway.api.settings import ApiSettings
from gateway.api.status import LiveView
from gateway.metrics import GatewayMetrics
from gateway.mqtt import MqttClient
from gateway.api.reader import StoreReader
from gateway.store.database import Store


@dataclass
class ApiContext:
    site: str
    broker_host: str
    broker_port: int
    settings: ApiSettings
    store: Store  # writes (the readiness probe)
    reader: StoreReader  # everything else: off the writer thread
    mqtt: MqttClient
    metrics: GatewayMetrics
    ready: asyncio.Event
    services: OperatorServices
    auth: Authenticator

    def live_view(self) -> LiveView:
        rules = self.services.rules
        return LiveView(
            broker_connected=self.mqtt.connected,
            ready=self.ready.is_set(),
            started_at=self.metrics.started_at,
            central=self.services.central(),
            voice_turns=list(self.metrics.voice_turns),
            rule_firings=list(self.metrics.rule_firings),
            rules_loaded=len(rules.list_rules()) if rules is not None else None,
        )
