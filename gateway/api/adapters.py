"""Adapters from other parts' services to what the API needs (`gateway.api.services`).

Each adapter is made only when its part is present on the Runtime; the API answers 503 with the
reason for the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gateway.api.models import ErasureReport, RuleInfo, RuleReload
from gateway.api.services import CentralLink, OperatorServices
from gateway.metrics import GatewayMetrics

if TYPE_CHECKING:
    from gateway.app import Runtime
    from gateway.consent.service import ConsentService
    from gateway.rules.engine import Decision
    from gateway.rules.service import RulesEngine


class ConsentCustomers:
    """Export and erasure through the consent part: erasure deletes every local row, queues the
    erasure upstream and is audited there (source "operator")."""

    def __init__(self, service: ConsentService) -> None:
        self._service = service

    async def export(self, customer_id: str) -> dict[str, Any]:
        exported = await self._service.export(customer_id)
        return exported.model_dump(mode="json", exclude={"customer_id", "exported_at"})

    async def erase(self, customer_id: str) -> ErasureReport:
        from gateway.consent.model import ConsentSource

        result = await self._service.forget(customer_id, ConsentSource.OPERATOR)
        return ErasureReport(
            customer_id=customer_id,
            erased_at=time.time(),
            deleted=dict(result.deleted),
            upstream_queued=result.erasure_id > 0,
            erasure_id=result.erasure_id,
            pseudonym=result.pseudonym,
        )


def services_from_runtime(runtime: Runtime) -> OperatorServices:
    services = OperatorServices()
    consents = runtime.consents
    if consents is not None:
        services.customers = ConsentCustomers(consents)
    rules = runtime.rules
    if rules is not None:
        services.rules = EngineRules(rules)
        report_rule_firings(rules, runtime.metrics)
    elif not runtime.settings.rules.enabled:
        services.rules_missing_reason = "the rules engine is turned off (rules.enabled: false)"
    services.central = central_probe(runtime)
    services.analytics = runtime.analytics
    return services


def central_probe(runtime: Runtime) -> Callable[[], CentralLink]:
    """Reads the sync part's sender status when asked (the sender is made once its task runs)."""
    configured = runtime.settings.sync.url is not None

    def probe() -> CentralLink:
        parts = runtime.sync
        if parts is None:
            return CentralLink(configured=configured)
        status = parts.sender.status
        return CentralLink(configured, status.state, status.last_success_at, status.last_error)

    return probe


class EngineRules:
    """The rules engine's list and reload, and its firings into the metrics and the page."""

    def __init__(self, service: RulesEngine) -> None:
        self._service = service

    def list_rules(self) -> list[RuleInfo]:
        ruleset = self._service.engine.rules
        return [
            RuleInfo(
                id=compiled.rule.id,
                description=compiled.rule.description,
                enabled=compiled.rule.enabled,
                purpose=compiled.rule.purpose,
                priority=compiled.rule.priority,
                group=compiled.rule.group,
                source=str(ruleset.sources.get(rule_id, "")),
                trigger=compiled.rule.trigger.model_dump(mode="json", exclude_none=True),
            )
            for rule_id, compiled in ruleset.rules.items()
        ]

    async def reload(self) -> RuleReload:
        problems = await self._service.reload()
        return RuleReload(reloaded=not problems, count=len(self._service.engine.rules.rules), problems=[str(p) for p in problems])


def report_rule_firings(service: RulesEngine, metrics: GatewayMetrics) -> None:
    def on_decision(decision: Decision) -> None:
        if not decision.fired:
            return
        is_intent = decision.trigger.startswith("intent:")
        metrics.rule_fired(
            decision.rule_id,
            event_id=None if is_intent else decision.trigger,
            detail=decision.trigger if is_intent else decision.reason,
        )

    service.on_decision.append(on_decision)
