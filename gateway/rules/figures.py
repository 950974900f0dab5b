"""What the rules part offers the analytics part: zone figures as triggers (`FIGURE_INTAKE`) and
the live rule set's zones (`ZONE_MAP`), see gateway/ports.py.

A figure change becomes a `figure.<name>` event about the zone it names (engine._zones_of) and
is handed straight to the engine: it is a reading, not a sensor event, so it is never stored,
synced or consent-gated (it names no customer; a figure rule that needs one asks for
`customer: present` and its consent like any other rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gateway.model.event import Event
from gateway.model.figures import FigureChange
from gateway.rules.model import FIGURE_KIND_PREFIX

if TYPE_CHECKING:
    from gateway.rules.service import RulesEngine

FIGURE_DEVICE_PREFIX = "zone:"


def figure_events(site: str, changes: Sequence[FigureChange]) -> list[Event]:
    """Figure changes as the events the rules' figure triggers listen to."""
    return [
        Event(
            received_at=c.at, site=site, device=FIGURE_DEVICE_PREFIX + c.zone, kind=FIGURE_KIND_PREFIX + c.figure,
            purpose="analytics", attributes={"zone": c.zone, "figure": c.figure, "value": c.value},
        )
        for c in changes
    ]


class RuleFigures:
    """`FIGURE_INTAKE` and `ZONE_MAP` over the running rules engine."""

    def __init__(self, service: RulesEngine) -> None:
        self._service = service

    def on_figures(self, site: str, changes: Sequence[FigureChange]) -> None:
        if changes:
            self._service.on_committed(figure_events(site, changes))

    def zones_of(self, site: str, device: str) -> tuple[str, ...]:
        return self._service.engine.rules.zones.of(site, device)

    def names(self) -> frozenset[str]:
        return frozenset(self._service.engine.rules.zones.names)
