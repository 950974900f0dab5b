"""Pulling the central service's changes feed: profiles, consents and erasures since a cursor.

The cursor is persisted after each page is applied. Applying is idempotent (a consent older than
or equal to the one held is skipped; merging the same attributes twice changes nothing), so a crash
between applying a page and saving its cursor only means the page is applied again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from itertools import groupby

from pydantic import ValidationError

from gateway.store import Store
from gateway.store.database import Transaction
from gateway.store.sync_state import bump_counters, get_cursor, set_cursor
from gateway.sync.backoff import Verdict, classify, sync_backoff
from gateway.sync.rounds import run_rounds
from gateway.sync.settings import SyncSettings
from gateway.sync.wire import Change, ChangesPage, ConsentChange, ErasureChange, ProfileChange

if TYPE_CHECKING:  # aiohttp is loaded only by a gateway that syncs
    from gateway.sync.transport import Transport

log = logging.getLogger(__name__)

CHANGES_PATH = "/v1/changes"

ApplyConsents = Callable[[Sequence[ConsentChange]], Awaitable[None]]
ApplyProfiles = Callable[[Sequence[ProfileChange]], Awaitable[None]]
ApplyErasures = Callable[[Sequence[ErasureChange]], Awaitable[None]]


@dataclass(frozen=True)
class ChangeAppliers:
    """Where pulled changes go: consents to the consent ledger, profiles to the rules' store,
    erasures to the local erasure (each one idempotent)."""

    consents: ApplyConsents
    profiles: ApplyProfiles
    erasures: ApplyErasures


class ChangesPuller:
    def __init__(
        self, store: Store, transport: Transport, settings: SyncSettings, site_id: str, appliers: ChangeAppliers
    ) -> None:
        self._store = store
        self._transport = transport
        self._settings = settings
        self._site_id = site_id
        self._appliers = appliers
        self.backoff = sync_backoff(settings)
        self._wakeup = asyncio.Event()
        self.last_error = ""
        self.pages = 0

    def wake(self) -> None:
        """Poll now (e.g. an operator asked for a refresh)."""
        self._wakeup.set()

    async def run(self) -> None:
        await run_rounds(self.poll_once, self._wakeup)

    async def poll_once(self) -> float | None:
        """Fetch and apply one page. Returns the wait before the next poll, or None if the feed
        said more pages are waiting."""
        cursor = await self._store.call(get_cursor)
        params = {"since": cursor or "0", "site": self._site_id, "limit": str(self._settings.changes_page)}
        outcome = await self._transport.get_json(CHANGES_PATH, params)
        verdict = classify(outcome.status) if outcome.answered else Verdict.RETRY
        page: ChangesPage | None = None
        if verdict is Verdict.OK:
            try:
                page = ChangesPage.model_validate_json(outcome.body)
            except ValidationError as exc:
                outcome_error = f"unreadable changes page: {exc.error_count()} problems"
                log.error(outcome_error)
                self.last_error = outcome_error
        else:
            self.last_error = outcome.error or f"HTTP {outcome.status}"
        if page is None:
            delay = self.backoff.next_delay(outcome.retry_after)
            log.warning("changes feed: %s; next try in %.1fs", self.last_error, delay)
            return delay
        await self.apply(page.changes)
        new_cursor = page.cursor
        count = len(page.changes)
        await self._store.call(lambda db: _save_cursor(db, new_cursor, count))
        self.backoff.reset()
        self.pages += 1
        self.last_error = ""
        return None if page.more and page.changes else self._settings.poll_interval_s

    async def apply(self, changes: Sequence[Change]) -> None:
        """In feed order, one run of same-kind changes at a time (a consent then a later erasure
        of the same customer must land in that order)."""
        for kind, run in groupby(changes, key=lambda c: c.type):
            items = list(run)
            if kind == "consent":
                await self._appliers.consents([c for c in items if isinstance(c, ConsentChange)])
            elif kind == "profile":
                await self._appliers.profiles([c for c in items if isinstance(c, ProfileChange)])
            else:
                await self._appliers.erasures([c for c in items if isinstance(c, ErasureChange)])


def _save_cursor(db: object, cursor: str, applied: int) -> None:
    with Transaction(db) as conn:  # type: ignore[arg-type]
        set_cursor(conn, cursor)
        bump_counters(conn, {"changes_applied": applied})
