"""The operator part: metrics wired to ingest, Home Assistant discovery, the admin API.

It uses the ports of the consent, rules and sync parts, so it is built after them; what no part
offers answers 503 with the reason. Always built (discovery and metrics live here); the HTTP
server starts only with `api.enabled`.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
import argparse
from typing import TYPE_CHECKING

from gateway.config.problems import ConfigError, ConfigProblem
from gateway.logs import event_fields
from gateway.metrics import GatewayMetrics
from gateway.model.event import Event
from gateway.part import Built, Core, PartBase
from gateway.ports import AUDIT_APPEND, CENTRAL_LINK, CUSTOMER_RECORDS, PSEUDONYMISE, RULE_CATALOGUE, ZONE_FIGURES, Ports

if TYPE_CHECKING:
    from gateway.config.settings import Settings
    from gateway.metrics import StoreSnapshot

log = logging.getLogger(__name__)
event_log = logging.getLogger("gateway.events")


def wire_metrics(core: Core, metrics: GatewayMetrics) -> None:
    ingest = core.ingest

    def ingest_counts() -> dict[str, int]:
        return {k: v for k, v in asdict(ingest.counters).items() if isinstance(v, int)}

    metrics.watch_counters("touchgate_ingest", ingest_counts, "Ingest counter")
    metrics.watch_counters("touchgate_gate", lambda: dict(ingest.counters.by_gate_class), "Events by consent-gate class")
    metrics.watch_gauge("touchgate_broker_connected", "1 while connected to the MQTT broker", lambda: float(core.mqtt.connected))
    metrics.watch_gauge("touchgate_ready", "1 once the gateway has subscribed and is taking events", lambda: float(core.ready.is_set()))


def log_committed_events(events: list[Event]) -> None:
    """One DEBUG line per stored event with its id (customer ids are hashed by the formatter)."""
    if event_log.isEnabledFor(logging.DEBUG):
        for event in events:
            event_log.debug("event stored", extra={"fields": event_fields(event)})


class ApiPart(PartBase):
    name = "api"
    section = "api"
    uses = (AUDIT_APPEND, PSEUDONYMISE, CUSTOMER_RECORDS, RULE_CATALOGUE, CENTRAL_LINK, ZONE_FIGURES)

    def enabled(self, settings: Settings) -> bool:
        return True  # Home Assistant discovery and the metrics; the HTTP server only with api.enabled

    def check(self, settings: Settings) -> list[ConfigProblem]:
        from gateway.api.check import check_api

        return check_api(settings)

    def commands(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        return None  # `touchgate status` is the CLI's own (gateway/status_cmd.py)

    async def build(self, core: Core, ports: Ports) -> Built:
        from gateway.api.adapters import services_from_ports
        from gateway.api.reader import StoreReader
        from gateway.api.status import gateway_version
        from gateway.homeassistant import HomeAssistantAnnouncer
        from gateway.logs import use_pseudonymiser
        from gateway.store.operator_rows import store_snapshot

        settings = core.settings.api
        problems = settings.start_problems()
        if problems:  # before anything is made that would need closing
            raise ConfigError([ConfigProblem(file="<settings>", field=f, message=m) for f, m in problems])
        metrics = core.metrics
        metrics.keep_recent(settings.recent_items)
        wire_metrics(core, metrics)
        built = Built(on_committed=[metrics.events_committed, log_committed_events], on_dead_letters=[metrics.dead_lettered])
        services = services_from_ports(ports, core.settings, metrics)
        reader = StoreReader(core.settings.store.path)
        built.tasks.append(reader.run())
        pseudonymise = ports.optional(PSEUDONYMISE)
        if pseudonymise is not None:
            # The consent part's key: the same customer gets the same hash in every log line.
            use_pseudonymiser(pseudonymise)

        async def read_snapshot() -> StoreSnapshot:
            return await reader.call(store_snapshot)

        def last_sync() -> float | None:
            return services.central().last_success_at

        metrics.watch_gauge(
            "touchgate_last_sync_success_timestamp_seconds",
            "Unix time of the last batch the central service accepted (0: none since start)",
            lambda: last_sync() or 0.0,
        )

        ha = settings.homeassistant
        if ha.enabled:
            announcer = HomeAssistantAnnouncer(
                core.mqtt,
                metrics,
                read_snapshot,
                last_sync,
                core.settings.site_id,
                gateway_version(),
                prefix=ha.discovery_prefix,
                interval_s=ha.interval_s,
            )
            announcer.attach()
            built.tasks.append(announcer.run())

        if not settings.enabled:
            return built
        # The HTTP server (aiohttp.web) is loaded only when the admin API is switched on.
        from gateway.api.audit import store_audit
        from gateway.api.auth import Authenticator
        from gateway.api.context import ApiContext
        from gateway.api.server import serve_api

        if settings.token is None:
            log.warning("admin API has NO authentication (api.insecure_no_auth)", extra={"fields": {"event": "api_insecure"}})
        ctx = ApiContext(
            site=core.settings.site_id,
            broker_host=core.settings.mqtt.host,
            broker_port=core.settings.mqtt.port,
            settings=settings,
            store=core.store,
            reader=reader,
            mqtt=core.mqtt,
            metrics=metrics,
            ready=core.ready,
            services=services,
            auth=Authenticator.from_settings(settings, store_audit(core.store, ports.optional(AUDIT_APPEND))),
        )
        built.tasks.append(serve_api(ctx))
        return built


PART = ApiPart()
