"""Anonymous presence: BLE advertisers counted through a salted hash that rotates daily. Pure.

The salt of a day is HMAC(store secret, "touchgate.analytics.presence/" + date): without the
store's secret nobody can test a guessed MAC against a hash, and tomorrow's hashes cannot be
linked to today's (a new salt). Raw identifiers are hashed where they arrive and never kept; the
hashes themselves live only in memory for the day (per-day dwell) and are never stored or synced.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
from collections.abc import Iterable, Mapping

from gateway.model.event import AttributeValue

_SALT_CONTEXT = b"touchgate.analytics.presence/"
ANON_ID_BYTES = 12  # 96 bits: no collision among a day's devices, nothing to reverse without the salt


class DailyHasher:
    """`anonymous_id(identifier, day)`: the same device gets the same id within a day only."""

    __slots__ = ("_key", "_day", "_salt")

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the analytics key must be at least 16 bytes")
        self._key = key
        self._day = ""
        self._salt = b""

    def salt(self, day: str) -> bytes:
        if day != self._day:
            self._salt = hmac.new(self._key, _SALT_CONTEXT + day.encode(), hashlib.sha256).digest()
            self._day = day
        return self._salt

    def anonymous_id(self, identifier: str, day: str) -> bytes:
        # MACs arrive as "AA:BB:..", "aabb..", "AA-BB-..": one device, one id.
        normal = identifier.replace(":", "").replace("-", "").strip().lower()
        return hmac.new(self.salt(day), normal.encode(), hashlib.sha256).digest()[:ANON_ID_BYTES]

    def __repr__(self) -> str:  # never print the key or the salt
        return "DailyHasher(<key>)"


class OwnBeacons:
    """The shop's own beacons (fixtures, not people): matched by iBeacon uuid or by MAC glob."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self._uuids = {p.lower() for p in patterns if _looks_like_uuid(p)}
        self._globs = [p.lower().replace(":", "") for p in patterns if not _looks_like_uuid(p)]

    def matches(self, attributes: Mapping[str, AttributeValue]) -> bool:
        uuid = attributes.get("uuid")
        if isinstance(uuid, str) and uuid.lower() in self._uuids:
            return True
        mac = attributes.get("mac")
        if isinstance(mac, str) and self._globs:
            normal = mac.lower().replace(":", "").replace("-", "")
            return any(fnmatch.fnmatchcase(normal, g) for g in self._globs)
        return False


def _looks_like_uuid(value: str) -> bool:
    return value.count("-") == 4 and len(value) == 36
