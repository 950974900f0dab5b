"""Least-recently-used cache of finished replies (WAV bytes), by text, voice and output format.

Greetings and opening hours are said again and again; a hit skips synthesis and conversion.
Bounded both by entries and by bytes, so a run of long unique replies cannot fill a Pi's memory.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from gateway.audio import AudioFormat


@dataclass(frozen=True, slots=True)
class ReplyKey:
    voice_key: str
    text: str
    format: AudioFormat
    volume: float | None


@dataclass(frozen=True, slots=True)
class CachedReply:
    wav: bytes
    duration_s: float


class ReplyCache:
    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._entries: OrderedDict[ReplyKey, CachedReply] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get(self, key: ReplyKey) -> CachedReply | None:
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return found

    def put(self, key: ReplyKey, reply: CachedReply) -> None:
        size = len(reply.wav)
        if self._max_entries == 0 or size > self._max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old.wav)
        self._entries[key] = reply
        self._bytes += size
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= len(evicted.wav)
