"""Steady numbered load for the crash, restart and soak runs, and how to count what arrived.

Each message is a Milesight people-counter uplink whose `line_1_total_in` is its sequence number,
so the store tells exactly which messages arrived, which are missing and which came twice.

The publisher uses QoS 2 with a persistent session: the leg from the publisher to the broker is
then exactly once even across a broker restart (a QoS 1 publisher would legitimately resend, and
its duplicates would hide the gateway's). "Acked" means the broker completed the QoS 2 handshake:
from then on, the broker owes the message to the gateway.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

SITE = "shop1"
DEVICE = "reliability-counter"
TOPIC = f"milesight/{SITE}/{DEVICE}/uplink"


def numbered(n: int) -> bytes:
    return json.dumps({"line_1_period_in": 1, "line_1_period_out": 0, "line_1_total_in": n}).encode()


class SteadyPublisher:
    """Publishes numbered messages at `rate` per second from its own thread until stopped."""

    def __init__(self, host: str, port: int, rate: float, client_id: str = "reliability-load", start: int = 0) -> None:
        self.rate = rate
        self.next = start
        self.acked: set[int] = set()
        self._by_mid: dict[int, int] = {}
        self._early: set[int] = set()  # completed before publish() returned its mid to us
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311, clean_session=False)
        self.client.max_inflight_messages_set(100)
        self.client.reconnect_delay_set(0.05, 0.5)
        self.client.on_publish = self._on_publish
        self.client.connect(host, port)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="steady-publisher", daemon=True)

    def start(self) -> SteadyPublisher:
        self._thread.start()
        return self

    def _on_publish(self, client: paho.Client, userdata: object, mid: int, reason: object, props: object) -> None:
        with self._lock:
            n = self._by_mid.pop(mid, None)
            if n is None:
                self._early.add(mid)
            else:
                self.acked.add(n)

    def _run(self) -> None:
        interval = 1.0 / self.rate
        due = time.monotonic()
        while not self._stop.is_set():
            if self._paused.is_set():
                time.sleep(0.01)
                due = time.monotonic()
                continue
            n = self.next
            # paho queues the message while the broker is away and sends it on reconnect. Not
            # under our lock: paho calls _on_publish holding its own lock (lock-order deadlock).
            info = self.client.publish(TOPIC, numbered(n), qos=2)
            with self._lock:
                if info.mid in self._early:
                    self._early.discard(info.mid)
                    self.acked.add(n)
                else:
                    self._by_mid[info.mid] = n
            self.next = n + 1
            due += interval
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1:
                due = time.monotonic()  # fell behind (broker down): do not burst to catch up

    def pause(self) -> None:
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def stop(self, drain_timeout: float = 60) -> None:
        """Stop publishing and wait until the broker has completed every message sent."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        deadline = time.monotonic() + drain_timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._by_mid:
                    break
            time.sleep(0.05)
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def published(self) -> int:
        return self.next


@dataclass(frozen=True)
class Tally:
    acked: int
    stored: int  # distinct numbers in the store
    lost: int  # acked but not stored
    duplicates: int  # rows beyond the first per number

    def as_dict(self) -> dict[str, int]:
        return {"acked": self.acked, "stored": self.stored, "lost": self.lost, "duplicates": self.duplicates}


def stored_numbers(db_path: Path) -> Counter[int]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT attributes FROM events WHERE device = ?", (DEVICE,)).fetchall()
    finally:
        conn.close()
    return Counter(int(json.loads(a)["total_in"]) for (a,) in rows)


def quarantined_numbers(db_path: Path) -> list[int]:
    """Messages dead-lettered `poison`: in flight, alone, at two unclean stops in a row
    (gateway/quarantine.py). They are kept whole in the dead letters: set aside, not lost."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT raw FROM dead_letters WHERE reason = 'poison' AND topic = ?", (TOPIC,)).fetchall()
    finally:
        conn.close()
    return [int(json.loads(raw)["line_1_total_in"]) for (raw,) in rows]


def central_numbers(central_db: Path) -> Counter[int]:
    """The same count at the central service (its events table keeps each event's JSON body)."""
    conn = sqlite3.connect(f"file:{central_db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT body FROM events").fetchall()
    finally:
        conn.close()
    found: Counter[int] = Counter()
    for (body,) in rows:
        event = json.loads(body)
        if event.get("device") == DEVICE:
            found[int(event["attributes"]["total_in"])] += 1
    return found


def tally(acked: set[int], found: Counter[int]) -> Tally:
    return Tally(
        acked=len(acked),
        stored=len(found),
        lost=len(acked - set(found)),
        duplicates=sum(n - 1 for n in found.values() if n > 1),
    )
