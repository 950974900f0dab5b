"""The rules part: rules run on committed events and on voice intents, and publish their actions.

Uses the consent part's lookup, pseudonymiser and audit log when it is there (without it nothing
personal is consented); events the rules emit go through ingest (`core.ingest.submit_events`),
so the consent gate decides them and every `on_committed` listener sees them. Offers the intent
sink (voice), profile changes (sync), the rule catalogue (the admin API), and the figure intake
and zone map (analytics: zone figures as triggers, the rules' `zones:`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gateway.config.problems import ConfigProblem
from gateway.model.gate import NoConsents
from gateway.part import Built, Core, PartBase
from gateway.ports import (
    AUDIT_APPEND, CONSENT_LOOKUP, CUSTOMER_RECORDS, FIGURE_INTAKE, INTENT_SINK, PROFILE_CHANGES, PSEUDONYMISE, RULE_CATALOGUE,
    ZONE_MAP, Ports,
)

if TYPE_CHECKING:
    from gateway.config.settings import Settings
    from gateway.rules.engine import Decision
    from gateway.rules.service import RulesEngine


class RuleCatalogue:
    """The engine's rules as the operator sees them, their reload, and their firings."""

    def __init__(self, service: RulesEngine) -> None:
        self._service = service

    def describe(self) -> Sequence[Mapping[str, Any]]:
        ruleset = self._service.engine.rules
        return [
            {
                "id": compiled.rule.id,
                "description": compiled.rule.description,
                "enabled": compiled.rule.enabled,
                "purpose": compiled.rule.purpose,
                "priority": compiled.rule.priority,
                "group": compiled.rule.group,
                "source": str(ruleset.sources.get(rule_id, "")),
                "trigger": compiled.rule.trigger.model_dump(mode="json", exclude_none=True),
            }
            for rule_id, compiled in ruleset.rules.items()
        ]

    async def reload(self) -> tuple[int, list[str]]:
        problems = await self._service.reload()
        return len(self._service.engine.rules.rules), [str(p) for p in problems]

    def on_fired(self, listener: Callable[[str, str | None, str], None]) -> None:
        def on_decision(decision: Decision) -> None:
            if not decision.fired:
                return
            is_intent = decision.trigger.startswith("intent:")
            listener(
                decision.rule_id,
                None if is_intent else decision.trigger,
                decision.trigger if is_intent else decision.reason,
            )

        self._service.on_decision.append(on_decision)


class RulesPart(PartBase):
    name = "rules"
    section = "rules"
    uses = (AUDIT_APPEND, CONSENT_LOOKUP, PSEUDONYMISE, CUSTOMER_RECORDS)
    provides = (INTENT_SINK, PROFILE_CHANGES, RULE_CATALOGUE, FIGURE_INTAKE, ZONE_MAP)

    def check(self, settings: Settings) -> list[ConfigProblem]:
        from gateway.rules.loader import check_rules

        return check_rules(settings)

    def commands(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        from gateway.rules.cli import register

        register(subparsers)

    async def build(self, core: Core, ports: Ports) -> Built:
        from gateway.rules.figures import RuleFigures
        from gateway.rules.service import RulesEngine

        consents = ports.optional(CONSENT_LOOKUP) or NoConsents()
        keyed = ports.optional(PSEUDONYMISE)

        def pseudonymise(customer_id: str) -> str:
            # The consent part's keyed hash: the audit log never holds a customer id in clear.
            return keyed(customer_id) if keyed is not None else "(no pseudonymiser)"

        service = await RulesEngine.open(
            core.settings.rules, core.store, core.publish, consents, core.ingest.submit_events,
            pseudonymise=pseudonymise, append_audit=ports.optional(AUDIT_APPEND),
        )
        records = ports.optional(CUSTOMER_RECORDS)
        if records is not None:
            records.on_erased(service.drop_from_memory)
        figures = RuleFigures(service)
        return Built(
            on_committed=[service.on_committed],
            tasks=[service.run()],
            offers={
                INTENT_SINK: service, PROFILE_CHANGES: service, RULE_CATALOGUE: RuleCatalogue(service),
                FIGURE_INTAKE: figures, ZONE_MAP: figures,
            },
            service=service,
        )


PART = RulesPart()
