"""Adapters from other parts' services to what the API needs (`gateway.api.services`).

Each adapter is made only when its part is present on the Runtime; the API answers 503 with the
reason for the others.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from gateway.api.models import ErasureReport
from gateway.api.services import OperatorServices

if TYPE_CHECKING:
    from gateway.app import Runtime
    from gateway.consent.service import ConsentService


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
    consents = getattr(runtime, "consents", None)
    if consents is not None:
        services.customers = ConsentCustomers(consents)
    services.central_configured = _central_configured(runtime)
    return services


def _central_configured(runtime: Runtime) -> bool:
    sync_settings = getattr(runtime.settings, "sync", None)
    return getattr(sync_settings, "url", None) is not None
