"""Draining the outbox into the central service: batches by count, bytes and linger time.

One batch is in flight at a time, oldest first. Each event's id is its idempotency key, so a
batch whose answer was lost (timeout, reset, crash before the delete) is simply sent again and
the service stores it once. A row leaves the outbox only when a 2xx answer lists it as accepted
(or rejected for good: then it becomes a dead letter and is never retried).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import ValidationError

from gateway.listeners import Listeners
from gateway.model.gate import ConsentLookup
from gateway.store import Store
from gateway.store.outbox import (
    OutboxItem,
    defer,
    enforce_limits,
    fetch_batch,
    make_due,
    next_attempt_at,
    purge,
    settle,
)
from gateway.backoff import Backoff
from gateway.sync.backoff import Verdict, classify, sync_backoff
from gateway.sync.outcome import HttpOutcome
from gateway.sync.settings import SyncSettings
from gateway.sync.wire import BatchResult, Problem
from gateway.waiting import wait_set

if TYPE_CHECKING:
    from gateway.sync.transport import Transport

log = logging.getLogger(__name__)

EVENTS_PATH = "/v1/events:batch"
# While a partial batch lingers, look again this often (commits would otherwise wake us per batch).
LINGER_POLL_S = 0.05


@dataclass
class SenderStatus:
    state: str = "idle"  # idle | lingering | sending | backoff | refused | disabled
    batches: int = 0
    last_success_at: float | None = None
    last_error: str = ""
    retry_at: float | None = None


@dataclass(frozen=True, slots=True)
class Settled:
    """What left the outbox after one attempt, for listeners (metrics per kind, drain progress)."""

    accepted_kinds: tuple[str, ...] = ()  # one kind per event the central service accepted
    rejected: int = 0  # refused for good: now dead letters
    purged: int = 0  # consent no longer held at send time: deleted unsent

    @property
    def count(self) -> int:
        return len(self.accepted_kinds) + self.rejected + self.purged


class DrainEnd(StrEnum):
    EMPTY = "empty"  # the outbox is empty
    TIMEOUT = "timeout"  # the deadline passed first (service down, slow, or events keep coming)
    REFUSED = "refused"  # the service refused our requests (token, URL): see the log


class OutboxSender:
    def __init__(
        self,
        store: Store,
        transport: Transport | None,
        settings: SyncSettings,
        consents: ConsentLookup,
        raw_cap: int,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
        pseudonymise: Callable[[str], str] | None = None,
    ) -> None:
        self._store = store
        self._transport = transport
        self._settings = settings
        self._consents = consents
        self._raw_cap = raw_cap
        # Names a rejected personal event's dead letter by pseudonym (gateway/store/outbox.py).
        self._pseudonymise = pseudonymise
        self._clock = clock
        self.backoff = backoff or sync_backoff(settings)
        self._wakeup = asyncio.Event()
        self._cap = settings.batch_max_events  # shrinks while a refused batch is narrowed down
        self._retry_at = 0.0
        self._next_limits = 0.0
        self.status = SenderStatus(state="idle" if transport else "disabled")
        # Metrics, drain progress: a failing listener is logged and counted, sending goes on.
        self.on_settled: Listeners[[Settled]] = Listeners("sync on_settled")

    def wake(self, *_: object) -> None:
        """Called when new events were committed (an ingest listener)."""
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            now = self._clock()
            if now >= self._next_limits:
                await self._enforce_limits(now)
            if self._transport is None:
                await self._sleep(self._next_limits - now)
                continue
            if now < self._retry_at:
                await self._sleep(min(self._retry_at, self._next_limits) - now, wakeable=False)
                continue
            batch = await self._store.call(
                lambda db: fetch_batch(db, self._cap, self._settings.batch_max_bytes, now)
            )
            if not batch:
                self.status.state = "idle"
                await self._sleep(self._next_limits - now)
                continue
            if not self._is_full(batch) and batch[0].enqueued_at + self._settings.linger_s > now:
                self.status.state = "lingering"
                wait = min(batch[0].enqueued_at + self._settings.linger_s - now, LINGER_POLL_S)
                await self._sleep(wait, wakeable=False)
                continue
            await self.send(batch)

    async def drain(self, deadline: float) -> DrainEnd:
        """Send everything queued, now (`touchgate sync drain`): no lingering, earlier deferrals
        cancelled, the same batching, backoff and consent re-check as `run`; until the outbox is
        empty, `deadline` (on this sender's clock) passes, or the service refuses our requests."""
        if self._transport is None:
            raise RuntimeError("draining needs a transport (sync.url)")
        now = self._clock()
        await self._enforce_limits(now)  # what is past its TTL or the budget is not sent
        await self._store.call(lambda db: make_due(db, now))
        while True:
            now = self._clock()
            if now >= deadline:
                return DrainEnd.TIMEOUT
            if now < self._retry_at:
                await asyncio.sleep(min(self._retry_at, deadline) - now)
                continue
            batch = await self._store.call(
                lambda db: fetch_batch(db, self._cap, self._settings.batch_max_bytes, now)
            )
            if not batch:
                due = await self._store.call(next_attempt_at)
                if due is None:
                    return DrainEnd.EMPTY
                # Only events the service left unanswered wait (a short while): wait for them.
                await asyncio.sleep(max(LINGER_POLL_S, min(due, deadline) - now))
                continue
            await self.send(batch)
            if self.status.state == "refused":
                return DrainEnd.REFUSED

    async def send(self, batch: list[OutboxItem]) -> None:
        """One attempt at one batch, and whatever its answer means for each event in it."""
        assert self._transport is not None
        batch = await self._without_revoked(batch)
        if not batch:
            return
        self.status.state = "sending"
        body = b'{"events":[' + b",".join(item.body.encode() for item in batch) + b"]}"
        outcome = await self._transport.post_json(EVENTS_PATH, body)
        verdict = classify(outcome.status) if outcome.answered else Verdict.RETRY
        if verdict is Verdict.OK:
            await self._settle(batch, outcome)
        elif verdict is Verdict.SPLIT:
            await self._narrow(batch, outcome)
        else:
            await self._retry_later(batch, outcome, verdict)

    async def _settle(self, batch: list[OutboxItem], outcome: HttpOutcome) -> None:
        try:
            result = BatchResult.model_validate_json(outcome.body)
        except ValidationError as exc:
            # A 2xx we cannot read accepts nothing: keep everything and try again later.
            await self._retry_later(batch, HttpOutcome(outcome.status, b"", error=f"unreadable answer: {exc}"), Verdict.RETRY)
            return
        by_id = {item.event_id: item for item in batch}
        accepted = [i for i in dict.fromkeys(result.accepted) if i in by_id]
        rejected = [(by_id[r.id], r.reason) for r in result.rejected if r.id in by_id and r.id not in set(accepted)]
        answered = set(accepted) | {item.event_id for item, _ in rejected}
        unanswered = [i for i in by_id if i not in answered]
        now = self._clock()
        retry_at = now + self._settings.backoff_initial_s
        await self._store.call(lambda db: settle(db, accepted, rejected, unanswered, retry_at, self._raw_cap, self._pseudonymise))
        self._report(Settled(tuple(by_id[i].kind for i in accepted), rejected=len(rejected)))
        for item, reason in rejected:
            log.warning("central service rejected event %s for good: %s", item.event_id, reason)
        if unanswered:
            log.info("%d of %d events not taken this time; retrying them shortly", len(unanswered), len(batch))
        self.backoff.reset()
        self._cap = min(self._settings.batch_max_events, self._cap * 2)
        self.status.state = "idle"
        self.status.batches += 1
        self.status.last_success_at = now
        self.status.retry_at = None

    async def _narrow(self, batch: list[OutboxItem], outcome: HttpOutcome) -> None:
        """The whole request was refused (400, 413, 422 …). A batch is halved until the request
        holds a single event: only that one is dead-lettered, its neighbours go through."""
        if len(batch) > 1:
            self._cap = max(1, len(batch) // 2)
            log.info("batch of %d refused with %d; retrying with at most %d", len(batch), outcome.status, self._cap)
            return
        reason = f"HTTP {outcome.status}"
        try:
            problem = Problem.model_validate_json(outcome.body)
            reason = f"HTTP {outcome.status} {problem.error}: {problem.detail}".rstrip(": ")
        except ValidationError:
            pass
        await self._store.call(lambda db: settle(db, [], [(batch[0], reason)], [], 0.0, self._raw_cap, self._pseudonymise))
        self._report(Settled(rejected=1))
        log.warning("central service refused event %s: %s", batch[0].event_id, reason)
        self._cap = min(self._settings.batch_max_events, max(2, self._cap * 2))

    async def _retry_later(self, batch: list[OutboxItem], outcome: HttpOutcome, verdict: Verdict) -> None:
        delay = self.backoff.next_delay(outcome.retry_after)
        if verdict is Verdict.REFUSED:
            # Wrong token or URL: the events are fine, the configuration is not. Keep them.
            delay = max(delay, min(self._settings.backoff_max_s, 30.0))
            log.error("central service refused our requests (HTTP %d): check sync.url and sync.token", outcome.status)
        now = self._clock()
        self._retry_at = now + delay
        error = outcome.error or f"HTTP {outcome.status}"
        self.status.state = "refused" if verdict is Verdict.REFUSED else "backoff"
        self.status.last_error = error
        self.status.retry_at = self._retry_at
        await self._store.call(lambda db: defer(db, [i.event_id for i in batch], self._retry_at))
        log.warning("sending %d events failed (%s); retry in %.2fs", len(batch), error, delay)

    async def _without_revoked(self, batch: list[OutboxItem]) -> list[OutboxItem]:
        """Consent again, at send time: what was revoked (or expired) since is purged, not sent."""
        now = self._clock()
        revoked = [
            item.event_id
            for item in batch
            if item.customer_id is not None and not self._consents.allows(item.customer_id, item.purpose, now)
        ]
        if not revoked:
            return batch
        await self._store.call(lambda db: purge(db, revoked))
        self._report(Settled(purged=len(revoked)))
        log.info("purged %d queued events whose consent no longer holds", len(revoked))
        gone = set(revoked)
        return [item for item in batch if item.event_id not in gone]

    async def _enforce_limits(self, now: float) -> None:
        s = self._settings
        dropped = await self._store.call(lambda db: enforce_limits(db, s.outbox_max_bytes, s.outbox_ttl_s, now))
        self._next_limits = now + s.limits_interval_s
        if dropped.total:
            log.warning(
                "outbox limits: dropped %d events past the byte budget (%d bytes) and %d past the TTL (%d bytes)",
                dropped.budget, dropped.budget_bytes, dropped.ttl, dropped.ttl_bytes,
                extra={"fields": {"event": "outbox_dropped", "budget": dropped.budget, "ttl": dropped.ttl}},
            )

    def _report(self, settled: Settled) -> None:
        self.on_settled(settled)

    def _is_full(self, batch: list[OutboxItem]) -> bool:
        return len(batch) >= self._cap or sum(i.bytes for i in batch) >= self._settings.batch_max_bytes * 0.9

    async def _sleep(self, seconds: float, wakeable: bool = True) -> None:
        seconds = max(0.0, seconds)
        if not wakeable:
            await asyncio.sleep(seconds)
            return
        await wait_set(self._wakeup, seconds)
        self._wakeup.clear()
