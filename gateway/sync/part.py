"""The sync part's builder: the outbox sender, the changes puller and the erasure sender.

Without `sync.url` only the outbox limits run (budget and TTL), so a gateway that never syncs
still keeps its disk bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from gateway.model.gate import ConsentLookup, NoConsents
from gateway.sync.apply import build_appliers
from gateway.sync.sender import OutboxSender

if TYPE_CHECKING:
    from gateway.app import Runtime
    from gateway.sync.erasures import ErasureSender
    from gateway.sync.puller import ChangesPuller

log = logging.getLogger(__name__)


async def build(runtime: Runtime) -> None:
    settings = runtime.settings
    consents = runtime.consents
    lookup: ConsentLookup = consents if consents is not None else NoConsents()
    if settings.sync.url is None:
        sender = OutboxSender(runtime.store, None, settings.sync, lookup, settings.store.dead_letter_raw_cap)
        runtime.tasks.append(sender.run())
        log.info("sync.url not set: events stay queued locally (within the outbox budget and TTL)")
        return
    runtime.tasks.append(_run_sync(runtime, consents, lookup))


async def _run_sync(runtime: Runtime, consents: Any, lookup: ConsentLookup) -> None:
    # aiohttp's client (~10 MB) is loaded only by a gateway that actually syncs.
    from gateway.sync.erasures import ErasureSender
    from gateway.sync.puller import ChangesPuller
    from gateway.sync.transport import Transport

    settings = runtime.settings
    async with Transport(settings.sync) as transport:
        sender = OutboxSender(runtime.store, transport, settings.sync, lookup, settings.store.dead_letter_raw_cap)
        runtime.ingest.on_committed.append(sender.wake)
        metrics = runtime.metrics
        sender.on_settled.append(lambda settled: metrics.events_sent(settled.accepted_kinds))
        puller = ChangesPuller(
            runtime.store, transport, settings.sync, settings.site_id,
            build_appliers(runtime.store, consents, settings.site_id, lambda cid: _profile_changed(runtime, cid)),
        )
        erasures = ErasureSender(runtime.store, transport, settings.sync, settings.site_id)
        runtime.sync = SyncParts(sender, puller, erasures)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(sender.run(), name="sync-outbox")
                group.create_task(puller.run(), name="sync-changes")
                group.create_task(erasures.run(), name="sync-erasures")
        finally:
            with contextlib.suppress(ValueError):
                runtime.ingest.on_committed.remove(sender.wake)


def _profile_changed(runtime: Runtime, customer_id: str) -> None:
    if runtime.rules is not None:
        runtime.rules.invalidate_profile(customer_id)


class SyncParts:
    """What the status page and tests can look at."""

    def __init__(self, sender: OutboxSender, puller: ChangesPuller, erasures: ErasureSender) -> None:
        self.sender = sender
        self.puller = puller
        self.erasures = erasures
