"""The gateway's telemetry: Prometheus counters in a registry the gateway's core owns, plus short rings of
recent happenings (voice turns, rule firings) for the status page.

Parts report through the small hooks below (`metrics.voice_turn(latency_s, rtf)`,
`metrics.rule_fired(rule_id)`, `metrics.events_sent(kinds)` ...). Numbers that live in the
database (outbox, sync counters) are read into a `StoreSnapshot` at scrape time. No global
default registry: two gateways in one process (tests) never share numbers.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.model.deadletter import DeadLetter
from gateway.model.event import Event

# Seconds from the end of an utterance to the spoken answer; a good turn is well under 1.5 s.
VOICE_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
# Recognition time divided by audio duration: below 1 keeps up with speech.
RTF_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


@dataclass(frozen=True, slots=True)
class VoiceTurnRecord:
    at: float
    site: str
    text: str
    intent: str | None
    latency_s: float
    rtf: float | None


@dataclass(frozen=True, slots=True)
class RuleFiringRecord:
    at: float
    rule: str
    event_id: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    """Numbers that live in the database, refreshed by whoever reads them (scrape, HA publisher)."""

    outbox_depth: int
    outbox_bytes: int
    outbox_oldest_age_s: float | None
    events_last_minute: int
    # The sync part's persistent counters (state table, "sync.count.*"): sent, rejected, dropped…
    sync_counts: dict[str, int] = field(default_factory=dict)


CounterSource = Callable[[], dict[str, int]]


class GatewayMetrics:
    def __init__(self, recent_items: int = 20) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._events_in = Counter("touchgate_events_in", "Events committed to the store, by kind", ["kind"], registry=r)
        self._events_out = Counter(
            "touchgate_events_out", "Events accepted by the central service, by kind", ["kind"], registry=r
        )
        self._dead_letters = Counter("touchgate_dead_letters", "Input dead-lettered, by reason", ["reason"], registry=r)
        self._outbox_depth = Gauge("touchgate_outbox_depth", "Events waiting in the outbox", registry=r)
        self._outbox_bytes = Gauge("touchgate_outbox_bytes", "Bytes of event bodies waiting in the outbox", registry=r)
        self._outbox_age = Gauge(
            "touchgate_outbox_oldest_age_seconds", "Age of the oldest event in the outbox (0 when empty)", registry=r
        )
        self._events_per_minute = Gauge("touchgate_events_last_minute", "Events stored in the last 60 s", registry=r)
        self._rule_firings = Counter("touchgate_rule_firings", "Rule firings, by rule", ["rule"], registry=r)
        self._voice_turns = Counter("touchgate_voice_turns", "Voice turns, by outcome", ["outcome"], registry=r)
        self._voice_noisy = Counter(
            "touchgate_voice_noisy_turns", "Voice turns whose speech was hardly above the background (voice.guard."
            "noisy_below_db): many of them, and the speaker stands where it is loud", registry=r,
        )
        self._voice_latency = Histogram(
            "touchgate_voice_turn_latency_seconds",
            "End of utterance to answer",
            buckets=VOICE_LATENCY_BUCKETS,
            registry=r,
        )
        self._asr_rtf = Histogram(
            "touchgate_asr_real_time_factor", "Recognition time / audio duration", buckets=RTF_BUCKETS, registry=r
        )
        self._started = Gauge("touchgate_start_time_seconds", "Unix time the gateway started", registry=r)
        self._started.set(time.time())
        self.started_at = time.time()
        self.voice_turns: deque[VoiceTurnRecord] = deque(maxlen=recent_items)
        self.rule_firings: deque[RuleFiringRecord] = deque(maxlen=recent_items)
        self.snapshot: StoreSnapshot | None = None
        r.register(_SyncCountsCollector(self))

    # -- hooks other parts call ------------------------------------------------------------
    def events_committed(self, events: list[Event]) -> None:
        """Ingest listener: count per kind once per batch, not per event (hot path)."""
        for kind, count in Tally(e.kind for e in events).items():
            self._events_in.labels(kind).inc(count)

    def dead_lettered(self, dead_letters: list[DeadLetter]) -> None:
        for reason, count in Tally(d.reason.value for d in dead_letters).items():
            self._dead_letters.labels(reason).inc(count)

    def events_sent(self, kinds: Iterable[str]) -> None:
        """Sync: these events were accepted by the central service."""
        for kind, count in Tally(kinds).items():
            self._events_out.labels(kind).inc(count)

    def rule_fired(self, rule_id: str, event_id: str | None = None, detail: str = "") -> None:
        self._rule_firings.labels(rule_id).inc()
        self.rule_firings.appendleft(RuleFiringRecord(time.time(), rule_id, event_id, detail[:200]))

    def voice_turn(
        self, latency_s: float, rtf: float | None = None, *, text: str = "", intent: str | None = None, site: str = "",
        noisy: bool = False,
    ) -> None:
        """Voice: one turn ended. `text` is what was recognised (never audio)."""
        self._voice_turns.labels("recognised" if intent else "not_recognised").inc()
        if noisy:
            self._voice_noisy.inc()
        self._voice_latency.observe(latency_s)
        if rtf is not None:
            self._asr_rtf.observe(rtf)
        self.voice_turns.appendleft(VoiceTurnRecord(time.time(), site, text[:300], intent, latency_s, rtf))

    def keep_recent(self, items: int) -> None:
        self.voice_turns = deque(self.voice_turns, maxlen=items)
        self.rule_firings = deque(self.rule_firings, maxlen=items)

    def store_snapshot(self, snapshot: StoreSnapshot) -> None:
        self.snapshot = snapshot
        self._outbox_depth.set(snapshot.outbox_depth)
        self._outbox_bytes.set(snapshot.outbox_bytes)
        self._outbox_age.set(snapshot.outbox_oldest_age_s or 0.0)
        self._events_per_minute.set(snapshot.events_last_minute)

    def watch_counters(self, prefix: str, source: CounterSource, help_text: str) -> None:
        """Expose a part's own in-memory counters (e.g. ingest's) without copying them on the hot
        path: they are read at scrape time."""
        self.registry.register(_CounterDictCollector(prefix, source, help_text))

    def watch_gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self.registry.register(_GaugeCollector(name, help_text, read))

    def total(self, metric: str, **labels: str) -> float:
        """One sample's value (tests, status); 0 when it has never been counted."""
        value = self.registry.get_sample_value(metric, labels)
        return 0.0 if value is None else value


class _CounterDictCollector(Collector):
    def __init__(self, prefix: str, source: CounterSource, help_text: str) -> None:
        self._prefix, self._source, self._help = prefix, source, help_text

    def collect(self) -> Iterator[CounterMetricFamily]:
        for key, value in self._source().items():
            yield CounterMetricFamily(f"{self._prefix}_{key}", f"{self._help}: {key.replace('_', ' ')}", value=value)


class _SyncCountsCollector(Collector):
    """Sync outcomes as the sync part persisted them (they survive restarts, so the counter only
    goes down if the database is replaced)."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("touchgate_sync_results", "Sync outcomes, from the sync counters", labels=["result"])
        snapshot = self._metrics.snapshot
        for result, value in sorted((snapshot.sync_counts if snapshot else {}).items()):
            family.add_metric([result], value)
        yield family


class _GaugeCollector(Collector):
    def __init__(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self._name, self._help, self._read = name, help_text, read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(self._name, self._help, value=self._read())
