"""Ingest built directly (no broker, no parts): a real store and normaliser, the gate and the
acknowledgement as fake ports. What it promises: acknowledged only after the commit, the gate's
decision is what is stored and queued, listeners see exactly the committed events, and another
part's rejected input is stored as a dead letter and acknowledged the same way."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.config.settings import PROJECT_ROOT
from gateway.devices.normalise import Normaliser
from gateway.devices.registry import load_profiles
from gateway.ingest import Ingest
from gateway.model.deadletter import DeadLetter, DeadLetterReason
from gateway.model.event import Event, with_changes
from gateway.model.gate import GateClass, GateDecision
from gateway.model.inbound import InboundMessage
from gateway.store import Store
from gateway.waiting import within

CARD = b'{"Time":"2026-11-28T10:02:44","PN532":{"UID":"94D8FC5F","DATA":""}}'
CARD_TOPIC = "tele/cardreader_kiosk1/SENSOR"
DOOR_TOPIC = "shellies/shellydw2-1/sensor/state"


class AllowListGate:
    """A consent gate port: personal events of allowed customers are synced, others stripped."""

    def __init__(self, allowed: set[str]) -> None:
        self.allowed = allowed
        self.decided: list[str] = []

    def decide(self, event: Event) -> GateDecision:
        self.decided.append(event.id)
        if event.customer_id is None:
            return GateDecision(GateClass.ANONYMOUS, event, True)
        if event.customer_id in self.allowed:
            return GateDecision(GateClass.CONSENTED, event, True)
        return GateDecision(GateClass.UNCONSENTED, with_changes(event, customer_id=None), False)


class Acks:
    """The acknowledgement port, recording what was committed when each ack came."""

    def __init__(self, store_path: Path) -> None:
        self.store_path = store_path
        self.acked: list[int] = []
        self.rows_at_ack: list[int] = []

    def __call__(self, message: InboundMessage) -> None:
        import sqlite3

        with contextlib.closing(sqlite3.connect(self.store_path)) as db:
            self.rows_at_ack.append(db.execute("SELECT count(*) FROM events").fetchone()[0] + db.execute("SELECT count(*) FROM dead_letters").fetchone()[0])
        self.acked.append(message.mid)


@contextlib.asynccontextmanager
async def running_ingest(tmp_path: Path, gate: AllowListGate) -> AsyncIterator[tuple[Ingest, Acks, Store]]:
    profiles, problems = load_profiles(PROJECT_ROOT / "device_profiles")
    assert not problems
    store = await Store.open(tmp_path / "ingest.db")
    acks = Acks(tmp_path / "ingest.db")
    ingest = Ingest(store, Normaliser(profiles, "shop1", 65536, 4096), gate, acks, batch_max=100)
    task = asyncio.create_task(ingest.run())
    try:
        yield ingest, acks, store
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()


def message(topic: str, payload: bytes, mid: int) -> InboundMessage:
    return InboundMessage(topic, payload, 1, mid, time.time())


async def _until(predicate: object, timeout: float = 10) -> None:
    async def poll() -> None:
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.01)

    await within(poll(), timeout)


@pytest.mark.parametrize("consented", [True, False])
async def test_the_gate_port_decides_what_is_stored_and_queued(tmp_path: Path, consented: bool) -> None:
    gate = AllowListGate({"card:94D8FC5F"} if consented else set())
    committed: list[Event] = []
    async with running_ingest(tmp_path, gate) as (ingest, acks, store):
        ingest.on_committed.append(committed.extend)
        ingest.submit(message(CARD_TOPIC, CARD, 1))
        ingest.submit(message(DOOR_TOPIC, b"open", 2))
        await _until(lambda: len(acks.acked) == 2)
        stored = await store.call(lambda db: [tuple(r) for r in db.execute("SELECT customer_id FROM events ORDER BY id")])
        queued = await store.call(lambda db: db.execute("SELECT count(*) FROM outbox").fetchone()[0])
    assert len(gate.decided) == 2
    assert sorted(acks.acked) == [1, 2]
    assert all(rows >= n for n, rows in enumerate(acks.rows_at_ack, 1))  # each acknowledged once on disk
    assert sorted(e.customer_id or "" for e in committed) == sorted(r[0] or "" for r in stored)
    assert ("card:94D8FC5F",) in stored if consented else ("card:94D8FC5F",) not in stored
    assert queued == (2 if consented else 1)  # the unconsented tap never queued
    assert ingest.counters.by_gate_class[GateClass.CONSENTED.value if consented else GateClass.UNCONSENTED.value] == 1


async def test_a_parts_rejected_input_is_a_dead_letter_acknowledged_after_commit(tmp_path: Path) -> None:
    letters: list[DeadLetter] = []
    async with running_ingest(tmp_path, AllowListGate(set())) as (ingest, acks, store):
        ingest.on_dead_letters.append(letters.extend)
        ingest.submit_dead_letter(message("hermes/dialogueManager/startSession", b"{", 7), DeadLetterReason.INVALID_HERMES, "not JSON")
        ingest.submit(message("unknown/topic", b"x", 8))
        await _until(lambda: len(acks.acked) == 2)
        reasons = await store.call(lambda db: sorted(r[0] for r in db.execute("SELECT reason FROM dead_letters")))
    assert sorted(acks.acked) == [7, 8]
    assert all(rows >= n for n, rows in enumerate(acks.rows_at_ack, 1))
    assert DeadLetterReason.INVALID_HERMES.value in reasons and len(reasons) == 2
    assert {d.reason for d in letters} >= {DeadLetterReason.INVALID_HERMES}


async def test_events_made_inside_the_gateway_pass_the_same_gate_and_reach_the_listeners(tmp_path: Path) -> None:
    """A rule's emitted events: the one gate-to-batch path, the same on_committed listeners."""
    gate = AllowListGate({"card:A"})
    committed: list[Event] = []
    async with running_ingest(tmp_path, gate) as (ingest, acks, store):
        ingest.on_committed.append(committed.extend)
        made = [
            Event(received_at=time.time(), site="door", device="rule:greet", kind="greeted", purpose="analytics", customer_id=c)
            for c in ("card:A", "card:B")
        ]
        await within(ingest.submit_events(made), 10)
        queued = await store.call(lambda db: [r[0] for r in db.execute("SELECT event_id FROM outbox")])
    assert set(gate.decided) == {e.id for e in made}
    assert sorted(e.customer_id or "-" for e in committed) == ["-", "card:A"]  # B's id stripped by the gate
    assert queued == [made[0].id] and acks.acked == []  # nothing to acknowledge
