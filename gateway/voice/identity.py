"""Who is at a site: an `identify` event (card tap) binds the site's next voice sessions to the
customer for a while. Fed by the ingest path's committed events, so a tap counts only once it is
safely stored (and only with the customer id the consent gate let through)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.model.event import Event

IDENTIFY_KIND = "identify"


@dataclass
class IdentityBindings:
    ttl_s: float
    clock: Callable[[], float]
    _bound: dict[str, tuple[str, float]] = field(default_factory=dict)  # site → (customer, until)

    def on_committed(self, events: list[Event]) -> None:
        for event in events:
            if event.kind == IDENTIFY_KIND and event.customer_id is not None:
                self._bound[event.site] = (event.customer_id, event.received_at + self.ttl_s)

    def customer_at(self, site_id: str) -> str | None:
        bound = self._bound.get(site_id)
        if bound is None:
            return None
        customer, until = bound
        if self.clock() > until:
            del self._bound[site_id]
            return None
        return customer

    def forget_customer(self, customer_id: str) -> None:
        """After an erasure the customer is no longer bound anywhere."""
        for site in [s for s, (c, _) in self._bound.items() if c == customer_id]:
            del self._bound[site]
