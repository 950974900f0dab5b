"""The analytics part's wiring into today's composition root (PART_BUILDERS in gateway/app.py).

Everything the part needs from the others passes through here, so the planned `Part` protocol
(`build(core, ports)` returning routes, listeners, tasks and ports) re-plugs it by rewriting this
one module: it needs the store, the ingest's committed events, the consent gate, the pseudonym
key, the rules' zones and (optionally) the rules engine; it offers `runtime.analytics`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from gateway.analytics.anonymous import DailyHasher, OwnBeacons
from gateway.analytics.core import AnalyticsCore, CoreConfig, FigureChange, ZonesOf
from gateway.analytics.metrics import ZoneFiguresCollector
from gateway.analytics.service import AnalyticsService
from gateway.analytics.settings import ZoneRole
from gateway.config.problems import ConfigError, ConfigProblem
from gateway.model.event import Event
from gateway.rules.index import Zones
from gateway.rules.loader import load_rules
from gateway.rules.model import FIGURE_KIND_PREFIX
from gateway.store.pseudonym_key import load_or_create_pseudonym_key

if TYPE_CHECKING:
    from gateway.app import Runtime
    from gateway.config.settings import Settings


def load_zones(settings: Settings) -> tuple[Zones, list[ConfigProblem]]:
    """The rules' `zones:` (rules/*.yaml) and the problems of the analytics roles given for them."""
    result = load_rules(settings.rules)
    if result.rules is None:
        return Zones({}), result.problems
    return result.rules.zones, role_problems(settings, result.rules.zones)


def role_problems(settings: Settings, zones: Zones) -> list[ConfigProblem]:
    """A role given for a zone the rules do not define is a configuration error."""
    return [
        ConfigProblem(file="<settings>", field=f"analytics.zones.{name}", message=f"unknown zone {name!r}; define it under the rules' `zones:`")
        for name in settings.analytics.zones if name not in zones.names
    ]


def check(settings: Settings) -> list[ConfigProblem]:
    return load_zones(settings)[1] if settings.analytics.enabled else []


def figure_events(site: str, changes: list[FigureChange]) -> list[Event]:
    """Figure changes as the events the rules' figure triggers listen to (never stored)."""
    return [
        Event(
            received_at=c.at, site=site, device=f"zone:{c.zone}", kind=FIGURE_KIND_PREFIX + c.figure, purpose="analytics",
            attributes={"zone": c.zone, "figure": c.figure, "value": c.value},
        )
        for c in changes
    ]


def zones_of(runtime: Runtime, loaded: Zones) -> ZonesOf:
    """With the rules part, its live rule set's zones (a reload that changes `zones:` applies to
    the figures at once); without it, the zones read at start."""
    rules = runtime.rules
    if rules is None:
        return loaded.of
    engine = rules.engine
    return lambda site, device: engine.rules.zones.of(site, device)


async def build(runtime: Runtime) -> None:
    settings = runtime.settings
    section = settings.analytics
    if runtime.rules is not None:  # the rules part has read the files already
        zones = runtime.rules.engine.rules.zones
        problems = role_problems(settings, zones)
    else:
        zones, problems = await asyncio.to_thread(load_zones, settings)
    if problems:
        raise ConfigError(problems)
    key_setting = settings.privacy.pseudonym_key
    key = key_setting.get_secret_value().encode() if key_setting else await runtime.store.call(load_or_create_pseudonym_key)
    roles = {name: spec.role for name, spec in section.zones.items()}
    for name in zones.names:
        roles.setdefault(name, ZoneRole.OTHER)
    timezone = section.timezone or settings.rules.timezone
    core = AnalyticsCore(
        zones_of(runtime, zones), roles, DailyHasher(key), CoreConfig.from_settings(section, timezone), OwnBeacons(section.own_beacons),
        start=0.0,
    )
    service = AnalyticsService(section, core, runtime.store, settings.site_id, lambda: runtime.ingest.gate, timezone)
    runtime.analytics = service
    runtime.ingest.on_committed.append(service.on_committed)
    rules = runtime.rules
    if rules is not None:

        def to_rules(changes: list[FigureChange]) -> None:
            rules.on_committed(figure_events(settings.site_id, changes))

        service.on_figures.append(to_rules)

    def wake_sync() -> None:
        # The sync part's sender is made once its task runs: looked up when there is something to send.
        if runtime.sync is not None:
            runtime.sync.sender.wake()

    service.on_released.append(wake_sync)
    runtime.metrics.registry.register(ZoneFiguresCollector(service))
    runtime.tasks.append(service.run())
