"""One process of simulated shops for bench/fleet.py: each shop is the gateway's real sync part
(OutboxSender on its own SQLite outbox, ChangesPuller, ErasureSender over one Transport) against
the central side. The process reports, as one dict over its pipe: when each shop's outbox was
empty, every batch's round trip, and when each erasure was queued and applied at each shop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from gateway.consent.model import ConsentSource
from gateway.store import Store
from gateway.consent.erasure_rows import erase_customer
from gateway.store.outbox import queued_erasures
from gateway.sync.outcome import HttpOutcome
from gateway.sync.puller import ChangeAppliers, ChangesPuller
from gateway.sync.erasures import ErasureSender
from gateway.sync.sender import OutboxSender, Settled
from gateway.sync.settings import SyncSettings
from gateway.sync.transport import Transport
from gateway.sync.wire import ConsentChange, ErasureChange, ProfileChange


@dataclass(frozen=True)
class ShopPlan:
    site: str
    token: str
    db_path: Path
    queued: int  # events waiting in its outbox
    erasures: tuple[tuple[float, str], ...] = ()  # (seconds after the start, customer) erased here


@dataclass
class ShopReport:
    drained_at: float | None = None
    batch_ms: list[float] = field(default_factory=list)
    erasures_queued: dict[str, float] = field(default_factory=dict)  # customer -> when erased here
    erasures_applied: dict[str, float] = field(default_factory=dict)  # customer -> when pulled here
    consents_applied: int = 0
    batches_not_taken: int = 0  # 503 busy, connection reset (a killed worker), timeouts
    errors: list[str] = field(default_factory=list)


class AllConsented:
    """The shops' consent ledgers hold a grant for every identify event queued (the fleet's
    customers consented); the sender's re-check at send time is still made for each."""

    def allows(self, customer_id: str, purpose: str, at: float) -> bool:
        return True


class TimedTransport(Transport):
    """The real transport; each POST of events is timed (gzip, request, answer) when it was
    taken (2xx); the other answers (503 busy, resets after a kill) are counted."""

    def __init__(self, settings: SyncSettings, report: ShopReport) -> None:
        super().__init__(settings)
        self._report = report

    async def post_json(self, path: str, body: bytes) -> HttpOutcome:
        started = time.perf_counter()
        outcome = await super().post_json(path, body)
        if path.startswith("/v1/events"):
            if 200 <= outcome.status < 300:
                self._report.batch_ms.append((time.perf_counter() - started) * 1000)
            else:
                self._report.batches_not_taken += 1
        return outcome


async def _run_shop(
    plan: ShopPlan, url: str, poll_s: float, start_at: float, all_erasures: set[str], deadline: float
) -> ShopReport:
    report = ShopReport()
    settings = SyncSettings(url=url, token=plan.token, poll_interval_s=poll_s, limits_interval_s=60.0)
    store = await Store.open(plan.db_path)
    settled = 0
    drained = asyncio.Event()

    def on_settled(outcome: Settled) -> None:
        nonlocal settled
        settled += outcome.count
        if settled >= plan.queued and report.drained_at is None:
            report.drained_at = time.time()
            drained.set()

    async def consents(changes: Sequence[ConsentChange]) -> None:
        report.consents_applied += len(changes)

    async def profiles(changes: Sequence[ProfileChange]) -> None:
        return None

    async def erasures(changes: Sequence[ErasureChange]) -> None:
        now = time.time()
        for change in changes:
            report.erasures_applied.setdefault(change.customer_id, now)

    try:
        async with TimedTransport(settings, report) as transport:
            sender = OutboxSender(store, transport, settings, AllConsented(), raw_cap=4096)
            sender.on_settled.append(on_settled)
            puller = ChangesPuller(store, transport, settings, plan.site, ChangeAppliers(consents, profiles, erasures))
            eraser = ErasureSender(store, transport, settings, plan.site)
            await asyncio.sleep(max(0.0, start_at - time.time()))
            background = [asyncio.create_task(t.run()) for t in (sender, puller, eraser)]
            try:
                for offset, customer in plan.erasures:
                    await asyncio.sleep(max(0.0, start_at + offset - time.time()))
                    erased_at = time.time()
                    await store.call(lambda db, c=customer, t=erased_at: erase_customer(
                        db, c, pseudonym=f"p-{c}", source=ConsentSource.OPERATOR, now=t))
                    report.erasures_queued[customer] = erased_at
                    report.erasures_applied[customer] = erased_at  # erased here at once
                    eraser.wake()
                if plan.queued:
                    await asyncio.wait_for(drained.wait(), max(0.1, deadline - time.time()))
                # Stay until this shop's erasures left for the central side and every erasure of
                # the fleet has reached this shop through its changes feed.
                while time.time() < deadline and (
                    not all_erasures <= set(report.erasures_applied) or await store.call(lambda db: queued_erasures(db, 1))
                ):
                    await asyncio.sleep(0.1)
            except TimeoutError:
                pass  # reported as not drained: the orchestrator counts what is missing
            finally:
                for task in background:
                    if task.done() and task.exception() is not None:
                        report.errors.append(repr(task.exception()))  # a sync part died: the result says so
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)
    finally:
        await store.close()
    return report


async def _run_all(plans: list[ShopPlan], url: str, poll_s: float, start_at: float, erasures: set[str], deadline: float) -> list[ShopReport]:
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(_run_shop(p, url, poll_s, start_at, erasures, deadline)) for p in plans]
    return [t.result() for t in tasks]


def shop_process(
    plans: list[ShopPlan], url: str, poll_s: float, start_at: float, erasures: set[str], deadline: float, pipe: Connection
) -> None:
    """Entry point of a child process (multiprocessing, spawn)."""
    logging.basicConfig(level=logging.ERROR)  # retries after a worker kill are expected: the figures tell
    reports = asyncio.run(_run_all(plans, url, poll_s, start_at, erasures, deadline))
    pipe.send({plan.site: report for plan, report in zip(plans, reports, strict=True)})
    pipe.close()
