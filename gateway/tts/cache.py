"""Least-recently-used cache of finished replies (WAV bytes), by text, voice and output format.

Greetings and opening hours are said again and again; a hit skips synthesis and conversion.
Two regions, each least-recently-used within its own bounds, so a run of long unique replies
cannot fill a Pi's memory:
- **ordinary**: replies as they were spoken, bounded by entries and bytes;
- **prepared**: the skills' fixed replies and the fixed openings of their templated ones,
  synthesised ahead at start (gateway/tts/prepare.py), bounded by bytes alone. Ordinary traffic
  never evicts them: a shop's stream of unique replies ("You will find milk in aisle 3.") would
  otherwise push out the openers every first audio relies on.
A key names the voice by its identity (the engine's `voice_key`, which for Piper includes a hash
of the model and its config): `retain_voices` drops what was made by a voice no longer in use.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection
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


class _Region:
    """One least-recently-used map bounded by entries and bytes."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.entries: OrderedDict[ReplyKey, CachedReply] = OrderedDict()
        self.bytes = 0

    def get(self, key: ReplyKey) -> CachedReply | None:
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
        return found

    def put(self, key: ReplyKey, reply: CachedReply) -> bool:
        size = len(reply.wav)
        if self.max_entries == 0 or size > self.max_bytes:
            return False
        self.pop(key)
        self.entries[key] = reply
        self.bytes += size
        while len(self.entries) > self.max_entries or self.bytes > self.max_bytes:
            _, evicted = self.entries.popitem(last=False)
            self.bytes -= len(evicted.wav)
        return key in self.entries

    def pop(self, key: ReplyKey) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self.bytes -= len(old.wav)


class ReplyCache:
    def __init__(self, max_entries: int, max_bytes: int, prepared_max_bytes: int = 0) -> None:
        self._ordinary = _Region(max_entries, max_bytes)
        # Entries are bounded by the byte budget alone: a prepared opener is a few tens of kB.
        self._prepared = _Region(max_entries=1 << 30, max_bytes=prepared_max_bytes)
        self.hits = 0
        self.misses = 0
        self.prepared_hits = 0  # hits on prepared entries (the openers and fixed replies made ahead)

    def __len__(self) -> int:
        return len(self._ordinary.entries) + len(self._prepared.entries)

    @property
    def size_bytes(self) -> int:
        return self._ordinary.bytes + self._prepared.bytes

    @property
    def prepared_bytes(self) -> int:
        return self._prepared.bytes

    @property
    def prepared_count(self) -> int:
        return len(self._prepared.entries)

    def prepared_room(self, size: int) -> bool:
        """Whether a prepared entry of `size` bytes fits without evicting another prepared one."""
        return self._prepared.bytes + size <= self._prepared.max_bytes

    def __contains__(self, key: object) -> bool:
        """Whether `key` is kept (no hit or miss counted, nothing moved)."""
        return key in self._prepared.entries or key in self._ordinary.entries

    def get(self, key: ReplyKey) -> CachedReply | None:
        found = self._prepared.get(key)
        if found is not None:
            self.hits += 1
            self.prepared_hits += 1
            return found
        found = self._ordinary.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        return found

    def put(self, key: ReplyKey, reply: CachedReply, prepared: bool = False) -> bool:
        """Keep `reply`; False when it is larger than its region's budget (then it is not kept).
        A key is in one region at a time: a prepared entry replaces an ordinary one."""
        if prepared:
            self._ordinary.pop(key)
            return self._prepared.put(key, reply)
        if key in self._prepared.entries:
            return True  # made ahead already; the prepared copy is the one kept
        return self._ordinary.put(key, reply)

    def retain_voices(self, voice_keys: Collection[str]) -> int:
        """Drop every entry made by a voice not in `voice_keys` (a model replaced, a voice
        reconfigured); returns how many went."""
        dropped = 0
        for region in (self._ordinary, self._prepared):
            for key in [k for k in region.entries if k.voice_key not in voice_keys]:
                region.pop(key)
                dropped += 1
        return dropped
