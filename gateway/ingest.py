"""The ingest path: MQTT message → normalise → consent gate → one committed batch → ack.

Messages are collected as they arrive; a single flusher task commits whatever has accumulated in
one transaction, then acknowledges those messages to the broker, then hands the committed events
to listeners (rules, voice identity, metrics). While one batch is being committed the next one
fills up, so the commit rate adapts to the load: that is the group commit.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.devices.normalise import Normaliser
from gateway.model.deadletter import DeadLetter, DeadLetterReason
from gateway.model.event import Event
from gateway.model.gate import ConsentGate, GateClass
from gateway.model.inbound import InboundMessage
from gateway.store.database import Store
from gateway.store.ingest_rows import IngestBatch, load_delivered, write_ingest_batch

log = logging.getLogger(__name__)

CommittedListener = Callable[[list[Event]], None]
DeadLetterListener = Callable[[list[DeadLetter]], None]
Acker = Callable[[InboundMessage], None]


@dataclass
class IngestCounters:
    received: int = 0
    stored: int = 0
    dead_letters: int = 0
    queued_for_sync: int = 0
    commits: int = 0
    commit_failures: int = 0
    redeliveries_skipped: int = 0
    # Personal events without consent whose purpose's policy drops them: decided, never stored.
    dropped: int = 0
    # Dead letters other parts (consent, TTS, voice) handed in with `submit_dead_letter`.
    submitted_dead_letters: int = 0
    by_gate_class: dict[str, int] = field(default_factory=lambda: {c.value: 0 for c in GateClass})

    def in_flight(self) -> int:
        """Messages taken in but not yet settled (stored, dropped by the gate, dead-lettered, or
        skipped as a redelivery). 0 whenever ingest is idle: that is how the counters reconcile."""
        taken = self.received + self.submitted_dead_letters
        return taken - (self.stored + self.dropped + self.dead_letters + self.redeliveries_skipped)


class Ingest:
    def __init__(
        self,
        store: Store,
        normaliser: Normaliser,
        gate: ConsentGate,
        ack: Acker,
        batch_max: int = 1000,
    ) -> None:
        self._store = store
        self._normaliser = normaliser
        self.gate = gate  # replaceable by the consent part before the loop starts
        self._ack = ack
        self._batch_max = batch_max
        self._pending: list[InboundMessage] = []
        # packet id -> digest of the last committed message with that id (mirror of `delivered`)
        self._delivered: dict[int, bytes] = {}
        self._wakeup = asyncio.Event()
        self.counters = IngestCounters()
        self.on_committed: list[CommittedListener] = []
        self.on_dead_letters: list[DeadLetterListener] = []

    def submit(self, message: InboundMessage) -> None:
        """Called by the MQTT adapter for each message, in the event loop."""
        self._pending.append(message)
        self.counters.received += 1
        self._wakeup.set()

    def submit_dead_letter(self, message: InboundMessage, reason: DeadLetterReason, detail: str) -> None:
        """For other parts (voice, consent) whose input failed validation: stored and acked the same way."""
        self._pending.append(_Rejected(message, reason, detail))  # type: ignore[arg-type]
        self.counters.submitted_dead_letters += 1
        self._wakeup.set()

    async def run(self) -> None:
        self._delivered = await self._store.call(load_delivered)
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                messages = self._pending[: self._batch_max]
                del self._pending[: self._batch_max]
                batch, tally = self._build_batch(messages)
                await self._commit(batch)
                self._delivered.update(batch.delivered)
                for message in messages:
                    self._ack(message)
                self._after_commit(batch, tally)

    async def _commit(self, batch: IngestBatch) -> None:
        """Commit the batch, retrying until it is stored. Disk full, I/O error, locked: the
        messages stay unacknowledged (the broker keeps them) and nothing is dropped. The same batch
        is retried, not rebuilt, so the gate decides (and counts) each event once."""
        delay = 0.05
        while True:
            try:
                await self._store.call(lambda db: write_ingest_batch(db, batch))
                return
            except sqlite3.OperationalError as exc:
                self.counters.commit_failures += 1
                size = len(batch.events) + len(batch.dead_letters)
                log.error("commit of %d rows failed (%s); retrying in %.2fs", size, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _build_batch(self, messages: list[InboundMessage]) -> tuple[IngestBatch, _Tally]:
        batch = IngestBatch()
        tally = _Tally()
        counts = tally.by_gate_class
        delivered = batch.delivered
        for message in messages:
            if message.qos > 0:
                digest = message.digest()
                if message.dup and self._delivered.get(message.mid) == digest:
                    # Committed before a crash, PUBACK lost: already stored, only acknowledge.
                    tally.skipped += 1
                    continue
                delivered[message.mid] = digest
            if isinstance(message, _Rejected):
                batch.dead_letters.append(self._normaliser.dead_letter(message.message, message.reason, message.detail))
                continue
            result = self._normaliser.normalise(message)
            if isinstance(result, DeadLetter):
                batch.dead_letters.append(result)
                continue
            decision = self.gate.decide(result)
            counts[decision.gate_class.value] += 1
            if decision.local is not None:
                batch.events.append(decision.local)
            else:
                tally.dropped += 1
            if decision.sync:
                batch.outbox.append(result)
        return batch, tally

    def _after_commit(self, batch: IngestBatch, tally: _Tally) -> None:
        c = self.counters
        # Counted once committed, so a retried commit does not count twice.
        c.redeliveries_skipped += tally.skipped
        c.dropped += tally.dropped
        for gate_class, n in tally.by_gate_class.items():
            c.by_gate_class[gate_class] += n
        c.commits += 1
        c.stored += len(batch.events)
        c.dead_letters += len(batch.dead_letters)
        c.queued_for_sync += len(batch.outbox)
        for d in batch.dead_letters:
            log.info("dead letter on %s: %s (%s)", d.topic, d.reason.value, d.detail)
        # A failing listener must not stop ingest: the events are already safe on disk.
        if batch.events:
            for listener in self.on_committed:
                _call_isolated(listener, batch.events)
        if batch.dead_letters:
            for dl_listener in self.on_dead_letters:
                _call_isolated(dl_listener, batch.dead_letters)


def _call_isolated(listener: Callable[[list], None], items: list) -> None:  # type: ignore[type-arg]
    try:
        listener(items)
    except Exception:  # noqa: BLE001 - isolation boundary: logged with traceback, ingest goes on
        log.exception("listener %r failed on %d items", listener, len(items))


@dataclass(slots=True)
class _Tally:
    """What one batch adds to the counters, applied after its commit."""

    skipped: int = 0
    dropped: int = 0
    by_gate_class: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class _Rejected:
    message: InboundMessage
    reason: DeadLetterReason
    detail: str

    # Acknowledging a rejected message acknowledges the message it wraps.
    @property
    def qos(self) -> int:
        return self.message.qos

    @property
    def mid(self) -> int:
        return self.message.mid

    @property
    def dup(self) -> bool:
        return self.message.dup

    def digest(self) -> bytes:
        return self.message.digest()
