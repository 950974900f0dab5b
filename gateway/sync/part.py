"""The sync part: the outbox sender, the changes puller and the erasure sender.

Without `sync.url` only the outbox limits run (budget and TTL), so a gateway that never syncs
still keeps its disk bounded. Offers the state of the central link (the admin API shows it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from gateway.config.problems import ConfigProblem
from gateway.model.gate import NoConsents
from gateway.part import Built, Core, PartBase
from gateway.ports import (
    CENTRAL_LINK, CONSENT_FEED, OUTBOX_FEED, CONSENT_LOOKUP, CUSTOMER_RECORDS, PROFILE_CHANGES, PSEUDONYMISE, CentralLinkState, ConsentLookup, Ports,
)

if TYPE_CHECKING:
    from gateway.config.settings import Settings
    from gateway.sync.erasures import ErasureSender
    from gateway.sync.puller import ChangesPuller
    from gateway.sync.sender import OutboxSender

log = logging.getLogger(__name__)


class SyncParts:
    """The running sender, puller and erasure sender (what the status page and tests look at)."""

    def __init__(self, sender: OutboxSender, puller: ChangesPuller, erasures: ErasureSender) -> None:
        self.sender = sender
        self.puller = puller
        self.erasures = erasures


class SyncLink:
    """The sync part's service: `running` is set once its task runs with a `sync.url`."""

    def __init__(self, configured: bool) -> None:
        self.configured = configured
        self.running: SyncParts | None = None

    def queued(self) -> None:
        """The outbox feed: wake the sender for rows queued outside ingest (none without a url)."""
        if self.running is not None:
            self.running.sender.wake()

    def state(self) -> CentralLinkState:
        if self.running is None:
            return CentralLinkState(configured=self.configured)
        status = self.running.sender.status
        return CentralLinkState(self.configured, status.state, status.last_success_at, status.last_error)


class SyncPart(PartBase):
    name = "sync"
    section = "sync"
    uses = (CONSENT_LOOKUP, CONSENT_FEED, CUSTOMER_RECORDS, PROFILE_CHANGES, PSEUDONYMISE)
    provides = (CENTRAL_LINK, OUTBOX_FEED)

    def enabled(self, settings: Settings) -> bool:
        return True  # without a url it still enforces the outbox budget and TTL

    def check(self, settings: Settings) -> list[ConfigProblem]:
        from gateway.sync.check import check_sync

        return check_sync(settings)

    def commands(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        from gateway.sync.cli import register

        register(subparsers)

    async def build(self, core: Core, ports: Ports) -> Built:
        from gateway.sync.sender import OutboxSender

        settings = core.settings
        lookup: ConsentLookup = ports.optional(CONSENT_LOOKUP) or NoConsents()
        link = SyncLink(settings.sync.url is not None)
        built = Built(offers={CENTRAL_LINK: link.state, OUTBOX_FEED: link}, service=link)
        if settings.sync.url is None:
            sender = OutboxSender(
                core.store, None, settings.sync, lookup, settings.store.dead_letter_raw_cap, pseudonymise=ports.optional(PSEUDONYMISE)
            )
            built.tasks.append(sender.run())
            log.info("sync.url not set: events stay queued locally (within the outbox budget and TTL)")
        else:
            built.tasks.append(_run_sync(core, ports, lookup, link))
        return built


async def _run_sync(core: Core, ports: Ports, lookup: ConsentLookup, link: SyncLink) -> None:
    # aiohttp's client (~10 MB) is loaded only by a gateway that actually syncs.
    from gateway.sync.apply import build_appliers
    from gateway.sync.erasures import ErasureSender
    from gateway.sync.puller import ChangesPuller
    from gateway.sync.sender import OutboxSender
    from gateway.sync.transport import Transport

    settings = core.settings
    profiles = ports.optional(PROFILE_CHANGES)

    def profile_changed(customer_id: str) -> None:
        if profiles is not None:
            profiles.invalidate_profile(customer_id)

    async with Transport(settings.sync) as transport:
        sender = OutboxSender(
            core.store, transport, settings.sync, lookup, settings.store.dead_letter_raw_cap, pseudonymise=ports.optional(PSEUDONYMISE)
        )
        core.ingest.on_committed.append(sender.wake)
        metrics = core.metrics
        sender.on_settled.append(lambda settled: metrics.events_sent(settled.accepted_kinds))
        appliers = build_appliers(
            core.store, ports.optional(CONSENT_FEED), ports.optional(CUSTOMER_RECORDS), settings.site_id, profile_changed
        )
        puller = ChangesPuller(core.store, transport, settings.sync, settings.site_id, appliers)
        erasures = ErasureSender(core.store, transport, settings.sync, settings.site_id)
        link.running = SyncParts(sender, puller, erasures)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(sender.run(), name="sync-outbox")
                group.create_task(puller.run(), name="sync-changes")
                group.create_task(erasures.run(), name="sync-erasures")
        finally:
            with contextlib.suppress(ValueError):
                core.ingest.on_committed.remove(sender.wake)


PART = SyncPart()
