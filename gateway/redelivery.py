"""Redeliveries on the ingest path: which were committed already, and which are worked on alone.

After a reconnect the broker sends again what was in flight, with MQTT's DUP flag. Two cases:

* committed before the stop, its PUBACK lost: `DeliveredMirror` remembers the digest of the last
  committed message per packet id, so ingest only acknowledges it again;
* never committed: a *suspect* (gateway/quarantine.py). `SuspectRuns.take_run` works on suspects
  one at a time, each after its in-flight marker is written, and hands back the run to be
  committed together; a message that merely shared a batch with a poison one is never blamed.

Ingest (gateway/ingest.py) decides what a message becomes; this module only decides the order in
which suspects are worked on and brackets each with its marker.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from gateway.model.inbound import InboundMessage
from gateway.quarantine import Quarantine

# Suspects worked on one at a time but committed together, up to this many per run.
SUSPECT_RUN_MAX = 200

_MID_COUNT = 65536
_DIGEST_SIZE = 8  # InboundMessage.digest()


@dataclass(frozen=True, slots=True)
class Suspect:
    """A suspect being worked on: its quarantine key, and whether it is poison (it was in flight,
    alone, when the process last died)."""

    key: bytes
    poison: bool


class DeliveredMirror:
    """Packet id → digest of the last committed message with that id, in two fixed arrays.

    MQTT packet ids are 1..65535, so this is at most 65,535 entries; as a dict it held an int and
    a bytes object per id, long-lived objects made one per message that pinned the allocator's
    arenas (the heap only grew during a drain) and reached several MB. Here it is 576 KiB, once.
    """

    __slots__ = ("_digests", "_known")

    def __init__(self, rows: dict[int, bytes] | None = None) -> None:
        self._digests = bytearray(_MID_COUNT * _DIGEST_SIZE)
        self._known = bytearray(_MID_COUNT)
        if rows:
            self.update(rows)

    def update(self, rows: dict[int, bytes]) -> None:
        digests, known = self._digests, self._known
        for mid, digest in rows.items():
            if len(digest) != _DIGEST_SIZE:
                raise ValueError(f"digest of packet id {mid} has {len(digest)} bytes, not {_DIGEST_SIZE}")
            start = mid * _DIGEST_SIZE
            digests[start : start + _DIGEST_SIZE] = digest
            known[mid] = 1

    def matches(self, mid: int, digest: bytes) -> bool:
        start = mid * _DIGEST_SIZE
        return self._known[mid] == 1 and self._digests[start : start + _DIGEST_SIZE] == digest


class SuspectRuns:
    def __init__(self, quarantine: Quarantine, delivered: DeliveredMirror, run_max: int = SUSPECT_RUN_MAX) -> None:
        self._quarantine = quarantine
        self._delivered = delivered
        self._run_max = run_max

    def is_suspect(self, message: InboundMessage) -> bool:
        """A redelivery not committed before (one committed with its PUBACK lost is only
        acknowledged again, never worked on)."""
        if not self._quarantine.is_suspect(message):
            return False
        return not self._delivered.matches(message.mid, message.digest())

    async def take_run(
        self,
        pending: list[InboundMessage],
        is_suspect: Callable[[InboundMessage], bool],
        work_on: Callable[[InboundMessage, Suspect], None],
    ) -> list[InboundMessage]:
        """Take the suspects at the head of `pending` (up to `run_max`), calling `work_on` for each
        after its marker is written (the marker of the one before is dropped in the same write);
        returns them, to be committed (and acknowledged) together."""
        messages: list[InboundMessage] = []
        done: bytes | None = None
        try:
            while pending and len(messages) < self._run_max and is_suspect(pending[0]):
                message = pending.pop(0)
                messages.append(message)
                key, poison = await self._quarantine.begin(message, done)
                work_on(message, Suspect(key, poison))
                done = key
            if done is not None:
                # The last suspect is worked on: its marker goes before the run's commit, so a kill
                # during the commit (its fsync is the likeliest moment) blames no message.
                await self._quarantine.finish(done)
        except sqlite3.OperationalError:
            # A marker could not be written (disk full, locked): the run goes back to the head of
            # the queue, unacknowledged, and the caller retries it like a failed commit (its keys
            # are open in the quarantine, so the retry counts no strike).
            pending[:0] = messages
            raise
        return messages
