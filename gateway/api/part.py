"""The operator part's builder: metrics wired to ingest, Home Assistant discovery, the admin API.

Built after the other parts, so it finds what they attached to the Runtime (the consent service,
the rules engine, sync) and serves them; what is missing answers 503 with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import TYPE_CHECKING

from gateway.api.reader import StoreReader
from gateway.api.services import OperatorServices
from gateway.api.status import gateway_version
from gateway.config.problems import ConfigError, ConfigProblem
from gateway.homeassistant import HomeAssistantAnnouncer
from gateway.logs import event_fields, use_pseudonymiser
from gateway.metrics import GatewayMetrics, StoreSnapshot
from gateway.model.event import Event
from gateway.store.operator_rows import store_snapshot

if TYPE_CHECKING:
    from gateway.app import Runtime

log = logging.getLogger(__name__)
event_log = logging.getLogger("gateway.events")


def discover_services(runtime: Runtime) -> OperatorServices:
    """Adapters over the parts this gateway was built with (see gateway.api.adapters)."""
    from gateway.api.adapters import services_from_runtime

    return services_from_runtime(runtime)


def wire_metrics(runtime: Runtime, metrics: GatewayMetrics) -> None:
    ingest = runtime.ingest
    ingest.on_committed.append(metrics.events_committed)
    ingest.on_dead_letters.append(metrics.dead_lettered)

    def ingest_counts() -> dict[str, int]:
        return {k: v for k, v in asdict(ingest.counters).items() if isinstance(v, int)}

    metrics.watch_counters("touchgate_ingest", ingest_counts, "Ingest counter")
    metrics.watch_counters("touchgate_gate", lambda: dict(ingest.counters.by_gate_class), "Events by consent-gate class")
    metrics.watch_gauge("touchgate_broker_connected", "1 while connected to the MQTT broker", lambda: float(runtime.mqtt.connected))
    metrics.watch_gauge("touchgate_ready", "1 once the gateway has subscribed and is taking events", lambda: float(runtime.ready.is_set()))


def log_committed_events(events: list[Event]) -> None:
    """One DEBUG line per stored event with its id (customer ids are hashed by the formatter)."""
    if event_log.isEnabledFor(logging.DEBUG):
        for event in events:
            event_log.debug("event stored", extra={"fields": event_fields(event)})


async def build(runtime: Runtime) -> None:
    settings = runtime.settings.api
    metrics = runtime.metrics
    metrics.keep_recent(settings.recent_items)
    wire_metrics(runtime, metrics)
    runtime.ingest.on_committed.append(log_committed_events)
    services = discover_services(runtime)
    reader = StoreReader(runtime.settings.store.path)
    runtime.tasks.append(reader.run())
    consents = runtime.consents
    if consents is not None:
        # The consent part's key: the same customer gets the same hash in every log line.
        use_pseudonymiser(consents.pseudonymise)

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
            runtime.mqtt,
            metrics,
            read_snapshot,
            last_sync,
            runtime.settings.site_id,
            gateway_version(),
            prefix=ha.discovery_prefix,
            interval_s=ha.interval_s,
        )
        announcer.attach()
        runtime.tasks.append(announcer.run())

    if not settings.enabled:
        return
    problems = settings.start_problems()
    if problems:
        raise ConfigError([ConfigProblem(file="<settings>", field=f, message=m) for f, m in problems])
    # The HTTP server (aiohttp.web) is loaded only when the admin API is switched on.
    from gateway.api.auth import Authenticator
    from gateway.api.context import ApiContext
    from gateway.api.server import serve_api

    if settings.token is None:
        log.warning("admin API has NO authentication (api.insecure_no_auth)", extra={"fields": {"event": "api_insecure"}})
    ctx = ApiContext(
        site=runtime.settings.site_id,
        broker_host=runtime.settings.mqtt.host,
        broker_port=runtime.settings.mqtt.port,
        settings=settings,
        store=runtime.store,
        reader=reader,
        mqtt=runtime.mqtt,
        metrics=metrics,
        ready=runtime.ready,
        services=services,
        auth=Authenticator(
            settings.token.get_secret_value() if settings.token else None,
            settings.login_code.get_secret_value() if settings.login_code else None,
        ),
    )
    runtime.tasks.append(serve_api(ctx))
