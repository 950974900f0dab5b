"""What ingest counts: the counters it reports (metrics, status, benchmarks), and what one batch
adds to them, applied only once that batch is committed (a retried commit counts once)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from gateway.model.gate import GateClass
from gateway.store.ingest_rows import IngestBatch


@dataclass
class IngestCounters:
    received: int = 0
    stored: int = 0
    dead_letters: int = 0
    queued_for_sync: int = 0
    commits: int = 0
    commit_failures: int = 0
    # Redeliveries already committed, and retained states replayed unchanged (both acknowledged only).
    redeliveries_skipped: int = 0
    retained_repeats: int = 0
    # Dead letters of messages whose normalising or gating raised (isolation per message).
    internal_errors: int = 0
    # Messages in flight at two unclean stops in a row, dead-lettered `poison` (gateway/quarantine.py).
    poison_quarantined: int = 0
    # Personal events without consent whose purpose's policy drops them: decided, never stored.
    dropped: int = 0
    # Dead letters other parts (consent, TTS, voice) handed in with `submit_dead_letter`.
    submitted_dead_letters: int = 0
    # Listeners (rules, metrics, identity, sync) that raised on a committed batch: logged, ingest went on.
    listener_failures: int = 0
    by_gate_class: dict[str, int] = field(default_factory=lambda: {c.value: 0 for c in GateClass})

    def in_flight(self) -> int:
        """Messages taken in but not yet settled (stored, dropped by the gate, dead-lettered, or
        skipped as a redelivery). 0 whenever ingest is idle: that is how the counters reconcile."""
        taken = self.received + self.submitted_dead_letters
        return taken - (self.stored + self.dropped + self.dead_letters + self.redeliveries_skipped)

    def add_committed(self, batch: IngestBatch, tally: BatchTally) -> None:
        self.redeliveries_skipped += tally.skipped
        self.retained_repeats += tally.retained_repeats
        self.internal_errors += tally.internal_errors
        self.poison_quarantined += tally.poison
        self.dropped += tally.dropped
        for gate_class, n in tally.by_gate_class.items():
            self.by_gate_class[gate_class] += n
        self.commits += 1
        self.stored += len(batch.events)
        self.dead_letters += len(batch.dead_letters)
        self.queued_for_sync += len(batch.outbox)


@dataclass(slots=True)
class BatchTally:
    """What one batch adds to the counters, applied after its commit."""

    skipped: int = 0
    dropped: int = 0
    retained_repeats: int = 0
    internal_errors: int = 0
    poison: int = 0
    by_gate_class: Counter[str] = field(default_factory=Counter)

    def merge(self, other: BatchTally) -> None:
        self.skipped += other.skipped
        self.dropped += other.dropped
        self.retained_repeats += other.retained_repeats
        self.internal_errors += other.internal_errors
        self.poison += other.poison
        self.by_gate_class.update(other.by_gate_class)
