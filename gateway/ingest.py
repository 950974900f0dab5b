"""The ingest path: MQTT message → normalise → consent gate → one committed batch → ack.

Messages are collected as they arrive; a single flusher task commits whatever has accumulated in
one transaction, then acknowledges those messages to the broker, then hands the committed events
to listeners (rules, voice identity, metrics). While one batch is being committed the next one
fills up, so the commit rate adapts to the load: that is the group commit. How many messages a
batch may take follows the commit times (gateway/batch_limit.py), and a second batch is handed to
the store while one commits only when enough is waiting to make it worth its own fsync.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlite_utils

from gateway.backoff import Backoff
from gateway.batch_limit import BatchLimit
from gateway.devices.normalise import Normaliser
from gateway.ingest_counters import BatchTally, IngestCounters
from gateway.listeners import Listeners
from gateway.model.deadletter import DeadLetter, DeadLetterReason
from gateway.model.event import Event
from gateway.model.gate import ConsentGate, GateDecision
from gateway.model.inbound import InboundMessage
from gateway.quarantine import Quarantine
from gateway.redelivery import DeliveredMirror, Suspect, SuspectRuns
from gateway.store.database import Store
from gateway.store.ingest_rows import IngestBatch, load_delivered, write_ingest_batch

log = logging.getLogger(__name__)

# Batches being committed at once: one fsyncing while the next is built.
_MAX_IN_FLIGHT = 2
_RETRY_MIN_S = 0.05
_RETRY_MAX_S = 5.0

Acker = Callable[[InboundMessage], None]


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
        self.batch_limit = BatchLimit(batch_max)
        self._pending: list[InboundMessage] = []
        # packet id -> digest of the last committed message with that id (mirror of `delivered`)
        self._delivered = DeliveredMirror()
        self._wakeup = asyncio.Event()
        self.counters = IngestCounters()
        self.quarantine = Quarantine(store)
        self._suspects = SuspectRuns(self.quarantine, self._delivered)
        # A failing listener must not stop ingest: the events are already safe on disk.
        self.on_committed: Listeners[[list[Event]]] = Listeners("ingest on_committed")
        self.on_dead_letters: Listeners[[list[DeadLetter]]] = Listeners("ingest on_dead_letters")

    @property
    def waiting(self) -> int:
        """Messages taken in and not yet handed to the store in a batch."""
        return len(self._pending)

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

    def submit_events(self, events: Sequence[Event]) -> asyncio.Future[None]:
        """Events made inside the gateway (a rule's `emit_event`): through the same consent gate
        into the next batch, then to the same `on_committed` listeners as any other. The future
        resolves once they are committed (a failed commit is retried like any other)."""
        produced = _Produced(list(events), asyncio.get_running_loop().create_future())
        self._pending.append(produced)  # type: ignore[arg-type]
        self._wakeup.set()
        return produced.committed

    async def run(self) -> None:
        """Build, commit, acknowledge; up to `_MAX_IN_FLIGHT` batches at once, so the next batch
        is normalised while the previous one is being fsynced.

        A batch is built and handed to the store with no `await` in between: the store then sees
        writes in the order their gate decisions were made, which the consent part relies on (it
        updates its ledger before it submits a purge). For the same reason a failed batch is not
        retried as it was built: its messages go back to the queue and are decided again.
        """
        self._delivered.update(await self._store.call(load_delivered))
        await self.quarantine.load()
        in_flight: deque[_Commit] = deque()
        try:
            await self._flush_forever(in_flight)
        finally:
            # A commit still running finishes in the store's thread; its messages were not
            # acknowledged, and their redelivery is recognised through the `delivered` table.
            for commit in in_flight:
                commit.done.cancel()
            await self.quarantine.clean_stop()

    async def _flush_forever(self, in_flight: deque[_Commit]) -> None:
        backoff = Backoff(_RETRY_MIN_S, _RETRY_MAX_S)
        while True:
            while self._pending and len(in_flight) < _MAX_IN_FLIGHT:
                if in_flight and not self.batch_limit.second_batch_worth_it(len(self._pending)):
                    break  # they join the batch after the one committing: one fsync less to wait for
                in_flight.append(await self._submit_next())
            if not in_flight:
                await self._wakeup.wait()
                self._wakeup.clear()
                continue
            head = in_flight[0]
            if len(in_flight) < _MAX_IN_FLIGHT:
                # Room for another batch: wake for new messages as well as for the commit.
                self._wakeup.clear()
                woken = asyncio.ensure_future(self._wakeup.wait())
                await asyncio.wait((head.done, woken), return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
                if not head.done.done():
                    continue
            else:
                await asyncio.wait((head.done,))
            in_flight.popleft()
            # Not kept while waiting for the next messages: a settled batch holds hundreds of KB.
            failure = self._settle(head)
            del head
            if failure is None:
                backoff.reset()
                continue
            delay = backoff.next_delay()
            log.info("retrying the commit in %.2fs", delay)
            await asyncio.sleep(delay)

    def _settle(self, commit: _Commit) -> sqlite3.OperationalError | None:
        """Acknowledge and announce a committed batch, or queue a failed one's messages again."""
        failure = commit.done.exception()
        if failure is None:
            self.batch_limit.observe(len(commit.messages), commit.done.result())
            self._delivered.update(commit.batch.delivered)
            self.quarantine.settled(commit.batch.settled_in_flight, commit.batch.topic_last)
            for message in commit.messages:
                if isinstance(message, _Produced):
                    if not message.committed.done():
                        message.committed.set_result(None)
                else:
                    self._ack(message)
            self._after_commit(commit.batch, commit.tally)
            return None
        if not isinstance(failure, sqlite3.OperationalError):
            # Not a passing fault (a corrupt file, a schema that is not ours): the store is unusable
            # and the process cannot go on; say so plainly before the traceback.
            log.critical("store %s unusable: %s: %s; the gateway stops", self._store.path, type(failure).__name__, failure)
            raise failure
        # Disk full, I/O error, locked: nothing is acknowledged, so the broker keeps the messages;
        # they are queued again (ahead of newer ones) and retried after a pause.
        self.counters.commit_failures += 1
        log.error("commit of %d messages failed (%s); queued again", len(commit.messages), failure)
        self._pending[:0] = commit.messages
        return failure

    async def _submit_next(self) -> _Commit:
        """The next batch: a suspect (a redelivery, see gateway/quarantine.py) alone and after its
        in-flight marker is committed; otherwise up to `batch_max` messages, stopping before the
        next suspect."""
        pending = self._pending
        if self._is_suspect(pending[0]):
            return await self._submit_suspects()
        end = 1
        limit = min(len(pending), self.batch_limit.size)
        while end < limit and not (pending[end].dup and self._is_suspect(pending[end])):
            end += 1
        messages = pending[:end]
        del pending[:end]
        return self._submit(messages, None)

    async def _submit_suspects(self) -> _Commit:
        """Suspects one at a time, each after its marker is written; committed together."""
        batch, tally = IngestBatch(), BatchTally()

        def work_on(message: InboundMessage, suspect: Suspect) -> None:
            one, one_tally = self._build_batch([message], suspect)
            batch.merge(one)
            tally.merge(one_tally)

        try:
            messages = await self._suspects.take_run(self._pending, self._is_suspect, work_on)
        except sqlite3.OperationalError as exc:
            # A marker not written: settled like a failed commit (the run is queued again already).
            failed: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            failed.set_exception(exc)
            return _Commit([], IngestBatch(), BatchTally(), failed)
        return self._commit(messages, batch, tally)

    def _is_suspect(self, message: InboundMessage) -> bool:
        # Dead letters handed in by parts and events made inside the gateway are never suspects.
        return not isinstance(message, (_Rejected, _Produced)) and self._suspects.is_suspect(message)

    def _submit(self, messages: list[InboundMessage], suspect: Suspect | None) -> _Commit:
        batch, tally = self._build_batch(messages, suspect)
        return self._commit(messages, batch, tally)

    def _commit(self, messages: list[InboundMessage], batch: IngestBatch, tally: BatchTally) -> _Commit:
        done = asyncio.ensure_future(self._store.call(lambda db: _timed_write(db, batch)))
        return _Commit(messages, batch, tally, done)

    def _build_batch(self, messages: list[InboundMessage], suspect: Suspect | None) -> tuple[IngestBatch, BatchTally]:
        batch = IngestBatch()
        tally = BatchTally()
        delivered = batch.delivered
        topic_last = batch.topic_last
        if suspect is not None:
            batch.settled_in_flight.append(suspect.key)
        for message in messages:
            if isinstance(message, _Produced):
                self._add_produced(message, batch, tally)
                continue
            digest = message.digest()
            if message.qos > 0:
                if message.dup and self._delivered.matches(message.mid, digest):
                    # Committed before a crash, PUBACK lost: already stored, only acknowledge.
                    tally.skipped += 1
                    continue
                delivered[message.mid] = digest
            if isinstance(message, _Rejected):
                batch.dead_letters.append(self._normaliser.dead_letter(message.message, message.reason, message.detail))
                continue
            if self.quarantine.is_retained_repeat(message, digest):
                tally.skipped += 1
                tally.retained_repeats += 1
                continue
            topic_last[message.topic] = digest
            if suspect is not None and suspect.poison:
                tally.poison += 1
                batch.dead_letters.append(
                    self._normaliser.dead_letter(message, DeadLetterReason.POISON, "in flight at two unclean stops in a row")
                )
                continue
            try:
                result = self._normaliser.normalise(message)
                if isinstance(result, DeadLetter):
                    batch.dead_letters.append(result)
                    continue
                decision = self.gate.decide(result)
            except Exception as exc:  # noqa: BLE001 - isolation boundary per message: it alone is dead-lettered
                log.exception("normalising or gating a message on %s failed", message.topic)
                tally.internal_errors += 1
                batch.dead_letters.append(
                    self._normaliser.dead_letter(message, DeadLetterReason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
                )
                continue
            self._add(result, decision, batch, tally)
        return batch, tally

    def _add_produced(self, produced: _Produced, batch: IngestBatch, tally: BatchTally) -> None:
        for event in produced.events:
            try:
                decision = self.gate.decide(event)
            except Exception:  # noqa: BLE001 - isolation boundary per event: it alone is left out
                log.exception("gating event %s made by %s failed; not stored", event.id, event.device)
                tally.internal_errors += 1
                continue
            self._add(event, decision, batch, tally)

    @staticmethod
    def _add(event: Event, decision: GateDecision, batch: IngestBatch, tally: BatchTally) -> None:
        """The one place a gate decision becomes part of a batch: stored as decided (maybe
        stripped, or dropped), and queued for sync only when the gate allows it."""
        tally.by_gate_class[decision.gate_class.value] += 1
        if decision.local is not None:
            batch.events.append(decision.local)
        else:
            tally.dropped += 1
        if decision.sync:
            batch.outbox.append(event)

    def _after_commit(self, batch: IngestBatch, tally: BatchTally) -> None:
        self.counters.add_committed(batch, tally)
        for d in batch.dead_letters:
            log.info("dead letter on %s: %s (%s)", d.topic, d.reason.value, d.detail)
        if batch.events:
            self.on_committed(batch.events)
        if batch.dead_letters:
            self.on_dead_letters(batch.dead_letters)
        self.counters.listener_failures = self.on_committed.failures + self.on_dead_letters.failures

def _timed_write(db: sqlite_utils.Database, batch: IngestBatch) -> float:
    """Write the batch on the store's thread; its seconds there (rows, COMMIT, fsync) feed the
    batch limit. Timed on that thread: waiting in the store's queue is not the batch's cost."""
    started = time.perf_counter()
    write_ingest_batch(db, batch)
    return time.perf_counter() - started


@dataclass(slots=True)
class _Commit:
    """A batch handed to the store: acknowledged and counted only once `done` succeeds."""

    messages: list[InboundMessage]
    batch: IngestBatch
    tally: BatchTally
    done: asyncio.Future[float]  # seconds the write took on the store thread


@dataclass(frozen=True, slots=True)
class _Produced:
    """Events made inside the gateway; QoS 0 in the queue: nothing to acknowledge or deduplicate."""

    events: list[Event]
    committed: asyncio.Future[None]
    qos: int = 0
    mid: int = 0
    dup: bool = False


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
