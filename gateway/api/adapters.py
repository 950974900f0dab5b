"""Adapters from other parts' ports to what the API needs (`gateway.api.services`).

Each adapter is made only when a part offers its port; the API answers 503 with the reason for
the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gateway.api.models import ErasureReport, RuleInfo, RuleReload
from gateway.api.services import CentralLink, OperatorServices
from gateway.config.settings import Settings
from gateway.metrics import GatewayMetrics
from gateway.ports import CENTRAL_LINK, CUSTOMER_RECORDS, RULE_CATALOGUE, ZONE_FIGURES, CustomerRecords, Ports, RuleCatalogue


class RecordsCustomers:
    """Export and erasure through the consent part: erasure deletes every local row, queues the
    erasure upstream and is audited there (source "operator")."""

    def __init__(self, records: CustomerRecords) -> None:
        self._records = records

    async def export(self, customer_id: str) -> dict[str, Any]:
        exported = await self._records.export(customer_id)
        return {k: v for k, v in exported.items() if k not in ("customer_id", "exported_at")}

    async def erase(self, customer_id: str) -> ErasureReport:
        result = await self._records.erase(customer_id, "operator")
        return ErasureReport(
            customer_id=customer_id,
            erased_at=time.time(),
            deleted=dict(result.deleted),
            upstream_queued=result.erasure_id > 0,
            erasure_id=result.erasure_id,
            pseudonym=result.pseudonym,
        )


def services_from_ports(ports: Ports, settings: Settings, metrics: GatewayMetrics) -> OperatorServices:
    services = OperatorServices()
    records = ports.optional(CUSTOMER_RECORDS)
    if records is not None:
        services.customers = RecordsCustomers(records)
    catalogue = ports.optional(RULE_CATALOGUE)
    if catalogue is not None:
        services.rules = CatalogueRules(catalogue)
        catalogue.on_fired(lambda rule_id, event_id, detail: metrics.rule_fired(rule_id, event_id=event_id, detail=detail))
    elif not settings.rules.enabled:
        services.rules_missing_reason = "the rules engine is turned off (rules.enabled: false)"
    services.central = central_probe(ports)
    services.analytics = ports.optional(ZONE_FIGURES)
    return services


def central_probe(ports: Ports) -> Callable[[], CentralLink]:
    """Reads the sync part's link state when asked (its sender is made once its task runs)."""
    link = ports.optional(CENTRAL_LINK)

    def probe() -> CentralLink:
        if link is None:
            return CentralLink(configured=False)
        state = link()
        return CentralLink(state.configured, state.state, state.last_success_at, state.last_error)

    return probe


class CatalogueRules:
    """The rules part's catalogue as the API's models."""

    def __init__(self, catalogue: RuleCatalogue) -> None:
        self._catalogue = catalogue

    def list_rules(self) -> list[RuleInfo]:
        return [RuleInfo.model_validate(dict(row)) for row in self._catalogue.describe()]

    async def reload(self) -> RuleReload:
        count, problems = await self._catalogue.reload()
        return RuleReload(reloaded=not problems, count=count, problems=problems)
