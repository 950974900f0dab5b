"""Poison-message quarantine (the sensor path and the consent inbox) and retained-state dedupe.

Isolation (a try/except per message) catches what Python raises; it cannot catch a native crash,
an OOM kill or a hang the watchdog ends. Then the message was never acknowledged, the broker sends
it again after the restart, and it kills the gateway again: a crash loop. This is the redrive
policy of SQS and Kafka consumers, for MQTT:

* A message the broker sends again carries MQTT's DUP flag: it was in flight when the last
  connection ended (strike one, recorded by the broker for free). Such a *suspect* is worked on
  alone: a marker for it is committed (`in_flight` table, no fsync) before it is normalised, and
  the next suspect's marker replaces it once it is done; the last one's marker goes before the run
  is committed (and acknowledged) in one transaction: one fsync per run, not per suspect, and a
  kill during that commit blames no message (only one that dies while being worked on alone).
* A marker still there when the message comes back means the process died while working on it
  alone (strike two): the message is dead-lettered `poison` and acknowledged, so the gateway comes
  up and stays up.

Working on suspects alone means a message that merely shared a batch with the culprit is never
blamed. Suspects only exist after a reconnect, so the normal path pays nothing: first deliveries
are batched and committed as before. A message's identity is its topic and payload (a blake2b
hash): packet ids change across sessions.

Consumers that work on one message at a time and acknowledge after the work (the consent inbox)
use `begin` before the work and `forget` after it; the sensor path's order is gateway/redelivery.py.

Retained sensor states: the broker replays a retained message on every (re)subscribe, with the
retain flag set. The digest of the last message taken on each sensor topic is kept (in memory and
in `topic_last`); a replay identical to it is acknowledged and skipped.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

from gateway.model.inbound import InboundMessage
from gateway.store.database import Store
from gateway.store.in_flight import clear_in_flight, finish_in_flight, load_topic_last, note_in_flight

log = logging.getLogger(__name__)

# A topic_last mirror beyond this many topics is not grown further (a flood of invented device
# topics must not grow memory without bound); replays on topics past it are stored again.
_TOPIC_LAST_LIMIT = 100_000


def message_key(message: InboundMessage) -> bytes:
    """Identity of a message across sessions: its topic and payload (packet ids are reused)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(message.topic.encode("utf-8", "surrogateescape"))
    h.update(b"\0")
    h.update(message.payload)
    return h.digest()


@dataclass
class QuarantineCounters:
    suspects: int = 0
    poison: int = 0
    retained_repeats: int = 0


@dataclass
class Quarantine:
    store: Store
    counters: QuarantineCounters = field(default_factory=QuarantineCounters)
    _topic_last: dict[str, bytes] = field(default_factory=dict)
    # Markers written whose batch has not committed yet (cleared on a clean stop).
    _open: set[bytes] = field(default_factory=set)

    async def load(self) -> None:
        self._topic_last = await self.store.call(load_topic_last)

    @staticmethod
    def is_suspect(message: InboundMessage) -> bool:
        return message.dup and message.qos > 0

    async def begin(self, message: InboundMessage, done: bytes | None = None) -> tuple[bytes, bool]:
        """Note `message` as in flight before it is worked on (dropping the marker of `done`, the
        suspect worked on just before); returns its key and whether it is poison (it was being
        worked on, alone, when the process last died)."""
        key = message_key(message)
        if key in self._open:
            return key, False  # marked by this very run (its commit failed and it is retried): no strike
        self.counters.suspects += 1
        # Open before the await: a stop while the marker is being written must still clear it.
        self._open.add(key)
        earlier = await self.store.call(lambda db: note_in_flight(db, key, message.topic, message.received_at, done))
        if earlier > 0:
            self.counters.poison += 1
            log.error("message on %s was in flight at %d unclean stop(s) in a row: quarantined as poison", message.topic, earlier + 1)
            return key, True
        return key, False

    async def finish(self, key: bytes) -> None:
        """`key` has been worked on to the end (its result waits for the group's commit): drop its
        marker, so only a death while a suspect is being worked on counts as a strike."""
        await self.store.call(lambda db: finish_in_flight(db, key))

    async def forget(self, key: bytes) -> None:
        """For a consumer that works on one message at a time (the consent inbox): `key` is dealt
        with (its effect or its dead letter handed on); its marker goes."""
        try:
            await self.finish(key)
        except Exception:  # noqa: BLE001 - isolation boundary: a leftover marker costs that message one strike
            log.exception("could not drop the in-flight marker of a settled message")
        self._open.discard(key)

    def settled(self, keys: list[bytes], topic_last: dict[str, bytes]) -> None:
        """After a batch's commit: its markers are gone from the store, its last digests are kept."""
        self._open.difference_update(keys)
        if len(self._topic_last) < _TOPIC_LAST_LIMIT:
            self._topic_last.update(topic_last)
        else:
            for topic, digest in topic_last.items():
                if topic in self._topic_last:
                    self._topic_last[topic] = digest

    def is_retained_repeat(self, message: InboundMessage, digest: bytes) -> bool:
        """A retained state the broker replays, identical to the last message on its topic."""
        return message.retain and self._topic_last.get(message.topic) == digest

    async def clean_stop(self) -> None:
        """A clean stop is no strike: drop the markers of suspects not worked on to the end."""
        if not self._open:
            return
        keys, self._open = list(self._open), set()
        try:
            await self.store.call(lambda db: clear_in_flight(db, keys))
        except Exception:  # noqa: BLE001 - isolation boundary at shutdown: a leftover marker costs one strike
            log.exception("could not clear %d in-flight markers at stop", len(keys))
