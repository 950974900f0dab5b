"""The consent part: the ledger-backed gate for ingest, the consent and erasure topics, and the
expiry, refresh, audit and retention tasks.

Offers the consent lookup, the gate, the pseudonymiser and the customer records (erasure,
export) to the other parts (gateway/ports.py).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from gateway.config.problems import ConfigProblem
from gateway.part import Built, Core, PartBase, RouteSpec
from gateway.ports import AUDIT_APPEND, CONSENT_FEED, CONSENT_GATE, CONSENT_LOOKUP, CUSTOMER_RECORDS, DERIVE_SECRET, PSEUDONYMISE, ErasureSummary, Ports

if TYPE_CHECKING:
    from collections.abc import Callable

    from gateway.config.settings import Settings
    from gateway.consent.service import ConsentService


class ConsentRecords:
    """The consent service's erasure and export as the `CustomerRecords` port."""

    def __init__(self, service: ConsentService) -> None:
        self._service = service

    async def erase(self, customer_id: str, source: str) -> ErasureSummary:
        from gateway.consent.model import ConsentSource

        result = await self._service.forget(customer_id, ConsentSource(source))
        return ErasureSummary(result.erasure_id, result.pseudonym, dict(result.deleted))

    async def export(self, customer_id: str) -> dict[str, Any]:
        exported = await self._service.export(customer_id)
        return exported.model_dump(mode="json")

    def on_erased(self, listener: Callable[[str], None]) -> None:
        self._service.on_erased.append(listener)


class ConsentPart(PartBase):
    name = "consent"
    section = "privacy"
    provides = (AUDIT_APPEND, CONSENT_LOOKUP, CONSENT_FEED, CONSENT_GATE, PSEUDONYMISE, CUSTOMER_RECORDS, DERIVE_SECRET)

    def enabled(self, settings: Settings) -> bool:
        return True  # without it nothing personal could ever be consented to, or erased

    def check(self, settings: Settings) -> list[ConfigProblem]:
        from gateway.consent.check import check_privacy

        return check_privacy(settings)

    def commands(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        from gateway.consent.cli import register

        register(subparsers)

    async def build(self, core: Core, ports: Ports) -> Built:
        from gateway.consent.audit_log import append_audit
        from gateway.consent.inbox import CONSENT_SUBSCRIPTION, ERASURE_SUBSCRIPTION, ConsentInbox
        from gateway.consent.retention import run_retention
        from gateway.consent.service import ConsentService

        settings = core.settings.privacy
        service = await ConsentService.open(core.store, settings)
        inbox = ConsentInbox(service, core.mqtt.ack, core.dead_letter, core.settings.site_id, core.ingest.quarantine)
        return Built(
            routes=[RouteSpec(CONSENT_SUBSCRIPTION, inbox.on_consent), RouteSpec(ERASURE_SUBSCRIPTION, inbox.on_erasure)],
            tasks=[
                inbox.run(),
                service.run_expiry(),
                service.run_refresh(),
                service.run_audit_flush(),
                run_retention(core.store, settings),
            ],
            offers={
                AUDIT_APPEND: append_audit,
                CONSENT_LOOKUP: service,
                CONSENT_FEED: service,
                CONSENT_GATE: service.gate,
                PSEUDONYMISE: service.pseudonymise,
                CUSTOMER_RECORDS: ConsentRecords(service),
                DERIVE_SECRET: service.pseudonymise.derive,
            },
            service=service,
        )


PART = ConsentPart()
