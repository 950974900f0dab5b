"""Delivering erasures queued locally to the central service (`POST /v1/erasures`), retried like
events: backoff with jitter on 5xx/429/timeouts, deleted from the queue only once acknowledged.

Each erasure's idempotency key is the site id plus the local erasure id and time, so a retried
delivery is applied once by the service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncio
import logging

from pydantic import ValidationError

from gateway.store import Store
from gateway.store.outbox import QueuedErasure, delete_delivered_erasures, queued_erasures
from gateway.sync.backoff import Verdict, classify, sync_backoff
from gateway.sync.rounds import run_rounds
from gateway.sync.settings import SyncSettings
from gateway.sync.wire import ErasureBatch, ErasureOut, ErasureResult

if TYPE_CHECKING:  # aiohttp is loaded only by a gateway that syncs
    from gateway.sync.transport import Transport

log = logging.getLogger(__name__)

ERASURES_PATH = "/v1/erasures"
BATCH = 100


def erasure_key(site_id: str, erasure: QueuedErasure) -> str:
    return f"{site_id}:{erasure.erasure_id}:{int(erasure.requested_at * 1000)}"


class ErasureSender:
    def __init__(self, store: Store, transport: Transport, settings: SyncSettings, site_id: str) -> None:
        self._store = store
        self._transport = transport
        self._settings = settings
        self._site_id = site_id
        self.backoff = sync_backoff(settings)
        self._wakeup = asyncio.Event()
        self.last_error = ""

    def wake(self) -> None:
        """An erasure was queued: deliver it now rather than at the next poll."""
        self._wakeup.set()

    async def run(self) -> None:
        await run_rounds(self.deliver_once, self._wakeup)

    async def deliver_once(self) -> float | None:
        """One batch. Returns the wait before the next try, or None when more are queued."""
        queued = await self._store.call(lambda db: queued_erasures(db, BATCH))
        if not queued:
            return self._settings.poll_interval_s
        by_key = {erasure_key(self._site_id, e): e for e in queued}
        body = ErasureBatch(
            erasures=[ErasureOut(id=k, customer_id=e.customer_id, requested_at=e.requested_at) for k, e in by_key.items()]
        ).model_dump_json().encode()
        outcome = await self._transport.post_json(ERASURES_PATH, body)
        verdict = classify(outcome.status) if outcome.answered else Verdict.RETRY
        if verdict is Verdict.OK:
            try:
                result = ErasureResult.model_validate_json(outcome.body)
            except ValidationError:
                result = None
            if result is not None:
                done = [by_key[k].erasure_id for k in result.accepted if k in by_key]
                await self._store.call(lambda db: delete_delivered_erasures(db, done))
                self.backoff.reset()
                self.last_error = ""
                log.info("delivered %d erasures upstream", len(done))
                if result.held:
                    log.warning("the central service holds %d of them for its privacy officer: this site sent no event of"
                                " those customers, so they are not applied chain-wide until reviewed", len(result.held))
                return None if len(queued) == BATCH and done else self._settings.poll_interval_s
            self.last_error = "unreadable answer to erasures"
        else:
            # An erasure is never dropped: even a 4xx is retried (slowly) until an operator acts.
            self.last_error = outcome.error or f"HTTP {outcome.status}"
        delay = self.backoff.next_delay(outcome.retry_after)
        log.warning("erasure delivery failed (%s); retry in %.1fs", self.last_error, delay)
        return delay
