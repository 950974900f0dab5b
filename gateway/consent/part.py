"""The consent part's builder: replaces the ingest gate with the ledger-backed one, routes the
consent and erasure topics, and starts the expiry, refresh, audit and retention tasks.

Other parts find the service as `runtime.consents` (a `ConsentService`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.consent.inbox import CONSENT_SUBSCRIPTION, ERASURE_SUBSCRIPTION, ConsentInbox
from gateway.consent.retention import run_retention
from gateway.consent.service import ConsentService

if TYPE_CHECKING:
    from gateway.app import Runtime


async def build(runtime: Runtime) -> None:
    service = await ConsentService.open(runtime.store, runtime.settings.privacy)
    runtime.consents = service
    runtime.gate = service.gate
    runtime.ingest.gate = service.gate
    inbox = ConsentInbox(service, runtime.mqtt.ack, runtime.ingest.submit_dead_letter)
    service.inbox = inbox
    runtime.mqtt.route(CONSENT_SUBSCRIPTION, inbox.on_consent)
    runtime.mqtt.route(ERASURE_SUBSCRIPTION, inbox.on_erasure)
    runtime.tasks.extend(
        [
            inbox.run(),
            service.run_expiry(),
            service.run_refresh(),
            service.run_audit_flush(),
            run_retention(runtime.store, runtime.settings.privacy),
        ]
    )
