"""Which handler gets a message: the MQTT client's routing table.

Two routes whose filters can match the same topic are refused when the second is added
(`RouteOverlap`), so no handler depends on the order parts were built in. The one ordering that
exists is declared: a `fallback` route (the ingest's sensor topics, which operators configure)
yields to every other route it overlaps. Routes to the same handler may overlap (the message goes
to that handler either way).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as paho

from gateway.model.inbound import InboundMessage

MessageHandler = Callable[[InboundMessage], None]
_CACHE_LIMIT = 10_000


class RouteOverlap(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Route:
    subscription: str
    qos: int
    handler: MessageHandler
    auto_ack: bool
    fallback: bool = False


def filters_overlap(a: str, b: str) -> bool:
    """Whether some topic matches both MQTT filters (`+` one level, `#` the rest, even none)."""
    left, right = a.split("/"), b.split("/")
    if left[0].startswith("$") != right[0].startswith("$"):
        return False  # a wildcard first level never matches a '$' topic (MQTT 4.7.2)
    for index in range(max(len(left), len(right))):
        if index >= len(left) or index >= len(right):
            rest = left[index:] or right[index:]
            return rest == ["#"]  # "a/#" matches "a" too
        x, y = left[index], right[index]
        if "#" in (x, y):
            return True
        if x != y and "+" not in (x, y):
            return False
    return True


class RouteTable:
    def __init__(self) -> None:
        self._routes: list[Route] = []
        self._cache: dict[str, Route | None] = {}

    def add(self, route: Route) -> None:
        for existing in self._routes:
            if existing.fallback != route.fallback or existing.handler == route.handler:
                continue
            if filters_overlap(existing.subscription, route.subscription):
                raise RouteOverlap(
                    f"MQTT route {route.subscription!r} overlaps {existing.subscription!r}: a topic could go to "
                    "either handler (make the filters disjoint)"
                )
        self._routes.append(route)
        self._cache.clear()

    def subscriptions(self) -> dict[str, int]:
        """Each filter once, with the highest QoS any route asks for it."""
        found: dict[str, int] = {}
        for route in self._routes:
            found[route.subscription] = max(route.qos, found.get(route.subscription, 0))
        return found

    def find(self, topic: str) -> Route | None:
        if topic in self._cache:
            return self._cache[topic]
        matching = [r for r in self._routes if paho.topic_matches_sub(r.subscription, topic)]
        found = next((r for r in matching if not r.fallback), None) or next(iter(matching), None)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[topic] = found
        return found
