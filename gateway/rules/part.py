"""The rules part's builder (PART_BUILDERS) and checker (PART_CHECKS).

Wires the engine to the runtime: rules run on committed events (`runtime.ingest.on_committed`),
on voice intents through `runtime.rules.on_intent(site, intent_name, slots, customer_id)`, and
publish their actions with the runtime's MQTT client. Consent comes from `runtime.consents`
(the consent part, built before this one) or, without it, from no consents at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.config.problems import ConfigProblem
from gateway.model.gate import ConsentLookup, NoConsents
from gateway.rules.loader import check_rules
from gateway.rules.service import RulesEngine
from gateway.store.audit import append_audit

if TYPE_CHECKING:
    from gateway.app import Runtime
    from gateway.config.settings import Settings


class RuntimeConsents:
    """Asks whichever consent lookup the runtime holds at the moment of the question, so a
    ledger set on the runtime later (or replaced) is used at once."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._none = NoConsents()

    def allows(self, customer_id: str, purpose: str, at: float) -> bool:
        lookup: ConsentLookup = getattr(self._runtime, "consents", None) or self._none
        return lookup.allows(customer_id, purpose, at)


async def build(runtime: Runtime) -> None:
    settings = runtime.settings.rules
    if not settings.enabled:
        return
    mqtt = runtime.mqtt

    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        mqtt.publish(topic, payload, qos=qos, retain=retain)

    def pseudonymise(customer_id: str) -> str:
        # The consent part's keyed hash: the audit log never holds a customer id in clear.
        keyed = getattr(getattr(runtime, "consents", None), "pseudonymise", None)
        return str(keyed(customer_id)) if keyed is not None else "(no pseudonymiser)"

    service = await RulesEngine.open(
        settings, runtime.store, publish, RuntimeConsents(runtime), lambda: runtime.ingest.gate,
        pseudonymise=pseudonymise, append_audit=append_audit,
    )
    runtime.rules = service
    if runtime.consents is not None:
        runtime.consents.on_erased.append(service.drop_from_memory)
    runtime.ingest.on_committed.append(service.on_committed)
    runtime.tasks.append(service.run())


def check(settings: Settings) -> list[ConfigProblem]:
    return check_rules(settings)
