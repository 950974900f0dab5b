"""What the API needs from other parts (rules engine, consent/erasure, sync), as small protocols.

The part builder fills `OperatorServices` with adapters over whatever parts are configured; a
missing service makes its endpoints answer 503 with the reason, never a fake success.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.api.models import ErasureReport, RuleInfo, RuleReload
from gateway.ports import ZoneFigures


class RulesService(Protocol):
    def list_rules(self) -> list[RuleInfo]: ...

    async def reload(self) -> RuleReload: ...


class CustomerService(Protocol):
    async def export(self, customer_id: str) -> dict[str, Any]: ...

    async def erase(self, customer_id: str) -> ErasureReport: ...


@dataclass(frozen=True)
class CentralLink:
    """The link to the central profile service as the sync part sees it right now."""

    configured: bool
    state: str | None = None
    last_success_at: float | None = None
    last_error: str = ""


def no_central() -> CentralLink:
    return CentralLink(configured=False)


@dataclass
class OperatorServices:
    rules: RulesService | None = None
    customers: CustomerService | None = None
    central: Callable[[], CentralLink] = no_central
    analytics: ZoneFigures | None = None  # the analytics part's ZONE_FIGURES port
    # Set when something prevents a service from working, to say why in the 503.
    rules_missing_reason: str = "no rules engine is configured in this gateway"
    customers_missing_reason: str = "no consent part is configured: export and erasure are unavailable"
    analytics_missing_reason: str = "the analytics part is turned off (analytics.enabled: false)"

