"""The soak: the gateway (a separate process) under steady sensor load plus voice turns for a set
time, its RSS and the end-to-end p99 latency sampled every few seconds.

Latency is measured through the whole path: a probe sensor message → ingest → commit → rules →
a display action published back over MQTT. A "voice turn" is a Hermes `tts/say` → synthesis →
`playBytes` to the speaker → the speaker's `playFinished` → `sayFinished` (the voice part's ASR
front end is not in the gateway yet; when it is, its turns belong here too).

Used by `tests/reliability/test_soak.py` (seconds) and `bench/reliability.py` (minutes).
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho
import psutil
from paho.mqtt.enums import CallbackAPIVersion

from tests.reliability.load import SteadyPublisher, numbered, stored_numbers, tally
from tests.support.clients import Publisher
from tests.support.mosquitto import Mosquitto
from tests.support.procs import GatewayProcess, write_config

PROBE_TOPIC = "zigbee2mqtt/shop1/probe-1"
WARMUP_TOPIC = "milesight/shop1/warmup-counter/uplink"
DISPLAY_TOPIC = "touchgate/shop1/display/probe"
SPEAKER = "soak-speaker"
PROBE_RULES = """\
zones:
  probe: ["shop1/probe-*"]
rules:
  - id: probe-latency
    description: Echo each probe reading to a display, to time the whole path
    trigger: {kind: occupancy, zone: probe}
    actions:
      - display: {display: probe, content: {n: "{{ event.attributes.illuminance }}"}}
"""
REPLIES = ("Welcome to the shop.", "We are open until eight tonight.", "The coffee bar is at the back.")


@dataclass
class Sample:
    t: float  # seconds since the soak began
    rss_mb: float
    # Of rss: pages mapped from files (shared libraries, the WAL index); the rest is the heap.
    file_mb: float
    p99_ms: float | None  # of the probes answered since the previous sample
    probes: int


@dataclass
class SoakResult:
    seconds: float
    samples: list[Sample] = field(default_factory=list)
    acked: int = 0
    lost: int = 0
    duplicates: int = 0
    voice_turns: int = 0
    voice_turns_finished: int = 0
    crashed: bool = False

    def rss_growth_mb_per_hour(self, warmup_fraction: float = 0.25, part: str = "rss") -> float:
        """Least-squares slope of RSS (or of its `part`: "heap" or "file") over time after the
        warm-up (caches filling up, lazy imports), in MB per hour."""
        points = [s for s in self.samples if s.t >= self.seconds * warmup_fraction]
        if len(points) < 3:
            return float("nan")
        values = {"rss": [p.rss_mb for p in points], "file": [p.file_mb for p in points]}
        values["heap"] = [r - f for r, f in zip(values["rss"], values["file"], strict=True)]
        slope = statistics.linear_regression([p.t for p in points], values[part]).slope
        return slope * 3600.0

    def p99_ms(self) -> float | None:
        values = [s.p99_ms for s in self.samples if s.p99_ms is not None]
        return max(values) if values else None

    def summary(self) -> dict[str, object]:
        values = [s.p99_ms for s in self.samples if s.p99_ms is not None]
        return {
            "soak_seconds": round(self.seconds, 1),
            "soak_samples": len(self.samples),
            "soak_acked": self.acked,
            "soak_lost": self.lost,
            "soak_duplicates": self.duplicates,
            "rss_start_mb": round(self.samples[0].rss_mb, 1) if self.samples else None,
            "rss_end_mb": round(self.samples[-1].rss_mb, 1) if self.samples else None,
            "rss_growth_mb_per_hour": round(self.rss_growth_mb_per_hour(), 2),
            "rss_heap_growth_mb_per_hour": round(self.rss_growth_mb_per_hour(part="heap"), 2),
            "rss_file_growth_mb_per_hour": round(self.rss_growth_mb_per_hour(part="file"), 2),
            "p99_ms_median_of_samples": round(statistics.median(values), 2) if values else None,
            "p99_ms_worst_sample": round(max(values), 2) if values else None,
            "voice_turns": self.voice_turns,
            "voice_turns_finished": self.voice_turns_finished,
            "crashed": self.crashed,
        }


class Probe:
    """Publishes probe readings and times the display action each one triggers; also plays the
    speaker: answers every playBytes with playFinished and counts sayFinished."""

    def __init__(self, host: str, port: int) -> None:
        self._lock = threading.Lock()
        self._sent: dict[int, float] = {}
        self._latencies: list[float] = []
        self.next = 0
        self.finished = 0
        self._ready = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="soak-probe", protocol=paho.MQTTv311)
        self.client.on_connect = lambda c, *a: c.subscribe(
            [(DISPLAY_TOPIC, 0), (f"hermes/audioServer/{SPEAKER}/playBytes/+", 0), ("hermes/tts/sayFinished", 0)]
        )
        self.client.on_subscribe = lambda *a: self._ready.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        if not self._ready.wait(10):
            raise TimeoutError("probe did not subscribe")

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        now = time.monotonic()
        if msg.topic == DISPLAY_TOPIC:
            try:
                n = int(json.loads(msg.payload)["n"])
            except (ValueError, KeyError, TypeError):
                return
            with self._lock:
                sent = self._sent.pop(n, None)
                if sent is not None:
                    self._latencies.append((now - sent) * 1000.0)
        elif "/playBytes/" in msg.topic:
            request_id = msg.topic.rsplit("/", 1)[1]
            body = {"id": request_id, "siteId": SPEAKER}
            client.publish(f"hermes/audioServer/{SPEAKER}/playFinished", json.dumps(body), qos=0)
        elif msg.topic == "hermes/tts/sayFinished":
            with self._lock:
                self.finished += 1

    def probe(self) -> None:
        n = self.next
        self.next += 1
        with self._lock:
            self._sent[n] = time.monotonic()
        self.client.publish(PROBE_TOPIC, json.dumps({"occupancy": True, "illuminance": n, "battery": 90}), qos=1)

    def say(self, n: int) -> None:
        body = {"text": REPLIES[n % len(REPLIES)], "siteId": SPEAKER, "id": f"turn-{n}", "lang": "en"}
        self.client.publish("hermes/tts/say", json.dumps(body), qos=0)

    def take_latencies(self) -> list[float]:
        with self._lock:
            taken, self._latencies = self._latencies, []
            # Probes unanswered for long are lost to the window, not to the gateway (QoS 0 display).
            cutoff = time.monotonic() - 30
            for n in [n for n, t in self._sent.items() if t < cutoff]:
                del self._sent[n]
        return taken

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def warm_up(broker: Mosquitto, db: Path, count: int) -> None:
    with Publisher(broker.host, broker.port, client_id="soak-warmup") as pub:
        for start in range(0, count, 5000):
            batch = [(WARMUP_TOPIC, numbered(n)) for n in range(start, min(count, start + 5000))]
            pub.publish_all(batch, timeout=120)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _count(db, "warmup-counter") < count:
        time.sleep(0.2)


def _count(db: Path, device: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events WHERE device = ?", (device,)).fetchone()[0])
    finally:
        conn.close()


def run_soak(
    broker: Mosquitto,
    workdir: Path,
    seconds: float,
    sample_s: float = 5.0,
    sensor_rate: float = 200.0,
    probes_per_s: float = 5.0,
    voice_turn_every_s: float = 3.0,
    warmup_messages: int = 70_000,
) -> SoakResult:
    """`warmup_messages` are sent as fast as they go before the clock starts: enough to fill every
    bounded structure to its steady size (the redelivery-dedup map holds one entry per MQTT packet
    id, 65535 at most; SQLite's page cache; topic caches), so what grows afterwards is a leak."""
    workdir.mkdir(parents=True, exist_ok=True)
    rules = workdir / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "probe.yaml").write_text(PROBE_RULES)
    db = workdir / "soak.db"
    config = write_config(workdir / "soak.yaml", broker, db, rules={"dir": str(rules)})
    gateway = GatewayProcess(config)
    gateway.start()
    assert gateway.proc is not None
    process = psutil.Process(gateway.proc.pid)
    warm_up(broker, db, warmup_messages)
    probe = Probe(broker.host, broker.port)
    load = SteadyPublisher(broker.host, broker.port, rate=sensor_rate, client_id="soak-load").start()
    result = SoakResult(seconds=seconds)
    began = time.monotonic()
    next_sample = began + sample_s
    next_probe = began
    next_turn = began
    try:
        while (now := time.monotonic()) < began + seconds:
            if gateway.proc is None or gateway.proc.poll() is not None:
                result.crashed = True
                break
            if now >= next_probe:
                probe.probe()
                next_probe += 1.0 / probes_per_s
            if now >= next_turn:
                probe.say(result.voice_turns)
                result.voice_turns += 1
                next_turn += voice_turn_every_s
            if now >= next_sample:
                latencies = probe.take_latencies()
                p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 2 else None
                memory = process.memory_info()
                result.samples.append(Sample(now - began, memory.rss / 2**20, memory.shared / 2**20, p99, len(latencies)))
                next_sample += sample_s
            time.sleep(min(0.01, max(0.0, min(next_probe, next_turn, next_sample) - time.monotonic())))
    finally:
        load.stop()
        deadline = time.monotonic() + 60
        while not result.crashed and time.monotonic() < deadline and not set(stored_numbers(db)) >= load.acked:
            time.sleep(0.2)
        result.voice_turns_finished = probe.finished
        probe.close()
        code = gateway.stop()
        result.crashed = result.crashed or code not in (0, -15)
    counted = tally(load.acked, stored_numbers(db))
    result.acked, result.lost, result.duplicates = counted.acked, counted.lost, counted.duplicates
    return result
