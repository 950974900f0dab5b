"""The analytics part: zone figures from committed events, anonymous presence, k-anonymous
aggregates into the outbox (docs/analytics.md).

Requires the consent part's derived secrets (the daily salt's key, never the pseudonym key
itself) and the sync part's outbox feed (released aggregates wake the sender). Uses the rules
part's zone map (the live rule set's `zones:`; without rules the files are read once at start)
and its figure intake (figure triggers). Offers the zone figures the admin API shows.
Committed events arrive as any part's do: an `on_committed` listener of the core's ingest.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from gateway.config.problems import ConfigError, ConfigProblem
from gateway.part import Built, Core, PartBase
from gateway.ports import DERIVE_SECRET, FIGURE_INTAKE, OUTBOX_FEED, ZONE_FIGURES, ZONE_MAP, Ports, ZoneMap

if TYPE_CHECKING:
    from gateway.config.settings import Settings
    from gateway.model.figures import FigureChange
    from gateway.rules.index import Zones

# What the daily salt's secret is derived for (DERIVE_SECRET): changing it re-keys every id.
SALT_PURPOSE = "analytics.presence"


class FileZones:
    """The rules' `zones:` read from the rules files once (a gateway without the rules part)."""

    def __init__(self, zones: Zones | None = None) -> None:
        from gateway.rules.index import Zones

        self._zones = zones if zones is not None else Zones({})

    def zones_of(self, site: str, device: str) -> tuple[str, ...]:
        return self._zones.of(site, device)

    def names(self) -> frozenset[str]:
        return frozenset(self._zones.names)


def zones_from_files(settings: Settings) -> tuple[ZoneMap, list[ConfigProblem]]:
    """The rules' `zones:` (rules/*.yaml) and the problems of reading them."""
    from gateway.rules.loader import load_rules

    result = load_rules(settings.rules)
    if result.rules is None:
        return FileZones(), result.problems
    return FileZones(result.rules.zones), []


def role_problems(settings: Settings, names: frozenset[str]) -> list[ConfigProblem]:
    """A role given for a zone the rules do not define is a configuration error."""
    return [
        ConfigProblem(file="<settings>", field=f"analytics.zones.{name}", message=f"unknown zone {name!r}; define it under the rules' `zones:`")
        for name in settings.analytics.zones if name not in names
    ]


class AnalyticsPart(PartBase):
    name = "analytics"
    section = "analytics"
    requires = (DERIVE_SECRET, OUTBOX_FEED)
    uses = (ZONE_MAP, FIGURE_INTAKE)
    provides = (ZONE_FIGURES,)

    def check(self, settings: Settings) -> list[ConfigProblem]:
        if not settings.analytics.enabled:
            return []
        zones, problems = zones_from_files(settings)
        if problems:  # the rules part's check names them when it is on
            return [] if settings.rules.enabled else problems
        return role_problems(settings, zones.names())

    async def build(self, core: Core, ports: Ports) -> Built:
        from gateway.analytics.anonymous import DailyHasher, OwnBeacons
        from gateway.analytics.core import AnalyticsCore, CoreConfig
        from gateway.analytics.metrics import ZoneFiguresCollector
        from gateway.analytics.service import AnalyticsService
        from gateway.analytics.settings import ZoneRole

        settings = core.settings
        section = settings.analytics
        live_zones = ports.optional(ZONE_MAP)
        problems: list[ConfigProblem] = []
        if live_zones is not None:
            zones: ZoneMap = live_zones  # the rules part has read (and checked) the files already
        else:
            zones, problems = await asyncio.to_thread(zones_from_files, settings)
        problems = problems or role_problems(settings, zones.names())
        if problems:
            raise ConfigError(problems)
        roles = {name: spec.role for name, spec in section.zones.items()}
        for name in zones.names():
            roles.setdefault(name, ZoneRole.OTHER)
        timezone = section.timezone or settings.rules.timezone
        hasher = DailyHasher(ports.require(DERIVE_SECRET)(SALT_PURPOSE))
        analytics = AnalyticsCore(
            zones.zones_of, roles, hasher, CoreConfig.from_settings(section, timezone), OwnBeacons(section.own_beacons, settings.ingest.own_beacons), start=0.0,
        )
        ingest = core.ingest
        service = AnalyticsService(section, analytics, core.store, settings.site_id, lambda: ingest.gate, timezone)
        intake = ports.optional(FIGURE_INTAKE)
        if intake is not None:
            site = settings.site_id

            def to_rules(changes: list[FigureChange]) -> None:
                intake.on_figures(site, changes)

            service.on_figures.append(to_rules)
        service.on_released.append(ports.require(OUTBOX_FEED).queued)
        core.metrics.registry.register(ZoneFiguresCollector(service))
        return Built(on_committed=[service.on_committed], tasks=[service.run()], offers={ZONE_FIGURES: service}, service=service)


PART = AnalyticsPart()
