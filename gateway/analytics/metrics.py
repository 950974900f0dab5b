"""The zones' live figures as Prometheus gauges, read at scrape time (nothing on the hot path)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from gateway.analytics.service import AnalyticsService


class ZoneFiguresCollector(Collector):
    def __init__(self, service: AnalyticsService) -> None:
        self._service = service

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        family = GaugeMetricFamily("touchgate_zone_figure", "A zone's live figure (docs/analytics.md)", labels=["zone", "figure"])
        for zone, figures in self._service.live().items():
            for figure, value in figures.items():
                family.add_metric([zone, figure], value)
        yield family
        resets = CounterMetricFamily("touchgate_zone_drift_resets", "Counted occupancy reset by drift correction", labels=["zone"])
        for zone, state in sorted(self._service.core.zones.items()):
            resets.add_metric([zone], state.drift_resets)
        yield resets
        yield CounterMetricFamily("touchgate_analytics_aggregates_released", "k-anonymous aggregates queued for sync", value=self._service.released)
        yield CounterMetricFamily("touchgate_analytics_population_suppressed", "People/devices in groups below k, never synced", value=self._service.suppressed)
