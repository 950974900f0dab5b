"""The local profiles the rules read, cached in memory. Pure: the adapter loads and saves them.

A profile view is the attributes pulled from the central service with the locally kept ones
(points, badges, visit count, set by rules) laid over them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class CachedProfile:
    pulled: dict[str, Any]
    local: dict[str, Any]
    loaded_at: float
    view: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.view = {**self.pulled, **self.local}


class ProfileCache:
    def __init__(self, max_age_s: float = 300.0, max_entries: int = 20_000) -> None:
        self.max_age_s = max_age_s
        self.max_entries = max_entries
        self._entries: dict[str, CachedProfile] = {}
        # Customers whose local attributes changed since the adapter last saved them.
        self.dirty: set[str] = set()

    def get(self, customer_id: str) -> Mapping[str, Any] | None:
        entry = self._entries.get(customer_id)
        return entry.view if entry is not None else None

    def stale(self, customer_ids: set[str], now: float) -> list[str]:
        """The ones to (re)load before evaluating: unknown, or older than `max_age_s`."""
        out = []
        for cid in customer_ids:
            entry = self._entries.get(cid)
            if entry is None or now - entry.loaded_at > self.max_age_s:
                out.append(cid)
        return out

    def put(self, customer_id: str, pulled: dict[str, Any], local: dict[str, Any], now: float) -> None:
        if len(self._entries) >= self.max_entries and customer_id not in self._entries:
            oldest = min(self._entries, key=lambda k: self._entries[k].loaded_at)
            del self._entries[oldest]
        self._entries[customer_id] = CachedProfile(pulled, local, now)

    def update_local(self, customer_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Apply local changes (the rule's actions) and return the whole new local part."""
        entry = self._entries.get(customer_id)
        if entry is None:
            entry = self._entries[customer_id] = CachedProfile({}, {}, 0.0)
        entry.local.update(changes)
        entry.view.update(changes)
        self.dirty.add(customer_id)
        return dict(entry.local)

    def take_dirty(self) -> list[tuple[str, dict[str, Any]]]:
        out = [(cid, dict(self._entries[cid].local)) for cid in self.dirty if cid in self._entries]
        self.dirty.clear()
        return out

    def invalidate(self, customer_id: str) -> None:
        """Forget the cached copy (the profile changed in the database, or was erased)."""
        self._entries.pop(customer_id, None)
        self.dirty.discard(customer_id)

    def __len__(self) -> int:
        return len(self._entries)
