"""`touchgate sync drain`: send everything queued to the central service now.

It runs the gateway's own `OutboxSender` (same batching, backoff, narrowing of refused batches and
consent re-check at send time, through the consent part's ledger) on its own connection to the
store file, so it works whether or not the gateway runs; a batch both send is stored once by the
service (each event's id is its idempotency key).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import IO

from gateway.config.settings import Settings
from gateway.consent.service import ConsentService
from gateway.progress import progress
from gateway.store import Store
from gateway.store.outbox import outbox_stats
from gateway.sync.sender import DrainEnd, OutboxSender, Settled
from gateway.sync.transport import Transport


@dataclass(frozen=True, slots=True)
class DrainReport:
    end: DrainEnd
    sent: int
    rejected: int
    purged: int
    left: int  # events still queued when the drain ended
    last_error: str

    def as_dict(self) -> dict[str, object]:
        return {
            "end": self.end.value, "sent": self.sent, "rejected": self.rejected, "purged": self.purged,
            "left": self.left, "last_error": self.last_error,
        }


async def drain_outbox(
    settings: Settings, timeout_s: float, *, stream: IO[str] | None = None, show_progress: bool | None = None
) -> DrainReport:
    """Drain until the outbox is empty, `timeout_s` passes or the service refuses our requests.
    The progress bar counts events that left the outbox (sent, rejected for good, or purged)."""
    store = await Store.open(settings.store.path)
    try:
        consents = await ConsentService.open(store, settings.privacy)
        queued = (await store.call(outbox_stats)).events
        sent = rejected = purged = 0
        async with Transport(settings.sync) as transport:
            sender = OutboxSender(store, transport, settings.sync, consents, settings.store.dead_letter_raw_cap)
            with progress(queued, "drain", unit="events", stream=stream, enabled=show_progress) as bar:

                def on_settled(settled: Settled) -> None:
                    nonlocal sent, rejected, purged
                    sent += len(settled.accepted_kinds)
                    rejected += settled.rejected
                    purged += settled.purged
                    if bar.done + settled.count > queued:  # a running gateway keeps queueing
                        bar.set_total(bar.done + settled.count)
                    bar.advance(settled.count)

                sender.on_settled.append(on_settled)
                end = await sender.drain(time.time() + timeout_s)
                if end is not DrainEnd.EMPTY:
                    bar.note(end.value)
        left = (await store.call(outbox_stats)).events
    finally:
        await store.close()
    return DrainReport(end, sent, rejected, purged, left, sender.status.last_error)
