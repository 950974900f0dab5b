"""Anonymous presence: BLE advertisers counted through a salted hash that rotates daily. Pure.

The salt of a day is HMAC(secret, "touchgate.analytics.presence/" + date) (gateway/anonymous_id.py,
the secret derived from the store's pseudonym key for this purpose): without the
store's secret nobody can test a guessed MAC against a hash, and tomorrow's hashes cannot be
linked to today's (a new salt). Raw identifiers are hashed where they arrive and never kept; the
hashes themselves live only in memory for the day (per-day dwell) and are never stored or synced.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence

from gateway.devices.identifiers import OwnBeacon
from gateway.anonymous_id import ANON_ID_BYTES, MIN_SECRET_BYTES, anonymous_id, daily_salt, normalise_identifier
from gateway.model.event import AttributeValue

__all__ = ["ANON_ID_BYTES", "DailyHasher", "OwnBeacons"]


class DailyHasher:
    """`anonymous_id(identifier, day)`: the same device gets the same id within a day only
    (gateway/anonymous_id.py; the day's salt is kept while the day lasts)."""

    __slots__ = ("_key", "_day", "_salt")

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_SECRET_BYTES:
            raise ValueError(f"the analytics key must be at least {MIN_SECRET_BYTES} bytes")
        self._key = key
        self._day = ""
        self._salt = b""

    def salt(self, day: str) -> bytes:
        if day != self._day:
            self._salt = daily_salt(self._key, day)
            self._day = day
        return self._salt

    def anonymous_id(self, identifier: str, day: str) -> bytes:
        return anonymous_id(self.salt(day), identifier)

    def __repr__(self) -> str:  # never print the key or the salt
        return "DailyHasher(<key>)"


class OwnBeacons:
    """The shop's own beacons (fixtures, not people): matched by iBeacon uuid or by MAC glob, or
    as one of ingest's allow-listed beacons (`ingest.own_beacons`, which keep their MAC)."""

    def __init__(self, patterns: Iterable[str], allow_listed: Sequence[OwnBeacon] = ()) -> None:
        self._uuids = {p.lower() for p in patterns if _looks_like_uuid(p)}
        self._globs = [p.lower().replace(":", "") for p in patterns if not _looks_like_uuid(p)]
        self._allow_listed = tuple(allow_listed)

    def matches(self, attributes: Mapping[str, AttributeValue]) -> bool:
        uuid = attributes.get("uuid")
        if isinstance(uuid, str) and uuid.lower() in self._uuids:
            return True
        mac = attributes.get("mac")
        if self._allow_listed and isinstance(mac, str):
            uuid_text = uuid if isinstance(uuid, str) else None
            major, minor = attributes.get("major"), attributes.get("minor")
            if any(b.matches(mac, uuid_text, major, minor) for b in self._allow_listed):
                return True
        if isinstance(mac, str) and self._globs:
            normal = normalise_identifier(mac)
            return any(fnmatch.fnmatchcase(normal, g) for g in self._globs)
        return False


def _looks_like_uuid(value: str) -> bool:
    return value.count("-") == 4 and len(value) == 36
