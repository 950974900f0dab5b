"""What one HTTP exchange with the central service came to (no aiohttp here, so the outbox
sender can be used without loading the HTTP client)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HttpOutcome:
    status: int  # 0: no HTTP answer (refused, reset, timeout, TLS failure)
    body: bytes
    retry_after: float | None = None
    error: str = ""

    @property
    def answered(self) -> bool:
        return self.status != 0
