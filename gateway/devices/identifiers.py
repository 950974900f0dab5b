"""Devices' own hardware ids (a BLE MAC today; a Wi-Fi or phone id tomorrow): the shop's own
devices keep theirs, every other advertiser's is replaced by the day's anonymous id. Pure.

A profile that declares `device_identifier` (the payload path of the id; its `{device}` topic
name carries the same id) is guarded here, where a message enters the gateway (`admit`, before
ingest sees it): anything not on the allow-list of the shop's own beacons (`ingest.own_beacons`)
has its id replaced, in the topic and in the payload, by `anon:<hex>` — HMAC under a salt that
rotates daily (gateway/anonymous_id.py) from a secret made at process start and never stored. So
no clear MAC of a customer's phone reaches the store, the quarantine's tables, a dead letter, a
log line, a rule or the outbox; the normaliser marks such sightings `on_site` (never synced), and
analytics counts them through its own anonymous path. Without the secret (gone with the process)
nobody can test a guessed MAC against a stored id; the next day's ids cannot be linked to today's.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from gateway.anonymous_id import anonymous_id, daily_salt, normalise_identifier
from gateway.devices.profile import DeviceProfile
from gateway.devices.topics import TopicFilter
from gateway.model.inbound import InboundMessage

ANONYMOUS_PREFIX = "anon:"
# The `{device}` name an anonymised sighting gets: one row per receiver in `devices`, not one per
# phone and day.
ANONYMOUS_DEVICE = "anonymous"
DEVICE_CONTEXT = "touchgate.devices.anonymous/"
MAX_PARSED_BYTES = 64 * 1024
_ANONYMOUS_FORM = re.compile(r"anon:[0-9a-f]{24}\Z")
_HEX12 = re.compile(r"[0-9a-f]{12}\Z")
# A MAC anywhere in text that could not be parsed: six pairs with separators, or a bare run of 12
# hex digits that is not part of a longer one (a UUID's 32 digits are left alone).
# `anon:` ids themselves are left alone (so masking twice changes nothing).
_MAC_IN_TEXT = re.compile(
    rb"(?i)(?<![0-9a-f])(?:[0-9a-f]{2}[:-]){5}[0-9a-f]{2}(?![0-9a-f])|(?<![0-9a-f-])(?<!anon:)[0-9a-f]{12}(?![0-9a-f])"
)


def _mac(value: str) -> str:
    plain = normalise_identifier(value)
    if not _HEX12.match(plain) or (len(value.strip()) not in (12, 17)):
        raise ValueError("a MAC is 6 bytes in hex: AA:BB:CC:DD:EE:FF, AA-BB-CC-DD-EE-FF or AABBCCDDEEFF")
    return plain


def _uuid(value: str) -> str:
    plain = value.replace("-", "").strip().lower()
    if not re.fullmatch(r"[0-9a-f]{32}", plain):
        raise ValueError("an iBeacon UUID is 32 hex digits (dashes allowed)")
    return plain


Mac = Annotated[str, AfterValidator(_mac)]
BeaconUuid = Annotated[str, AfterValidator(_uuid)]


class OwnBeacon(BaseModel):
    """One of the shop's own beacons: pinned to one physical device, by its MAC or by its full
    iBeacon identity (uuid, major and minor). A uuid alone is refused: a phone running the shop's
    app may advertise the shop's uuid, and would then be tracked by its MAC."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("", max_length=64, description="what the beacon is (for people reading the config)")
    mac: Mac | None = None
    uuid: BeaconUuid | None = None
    major: int | None = Field(None, ge=0, le=65535)
    minor: int | None = Field(None, ge=0, le=65535)

    @model_validator(mode="after")
    def _pins_one_device(self) -> OwnBeacon:
        if self.mac is None and (self.uuid is None or self.major is None or self.minor is None):
            raise ValueError("an own beacon needs its mac, or its uuid with major and minor (a uuid alone matches phones too)")
        if self.uuid is None and (self.major is not None or self.minor is not None):
            raise ValueError("major and minor need the uuid")
        return self

    def matches(self, mac: str | None, uuid: str | None, major: object, minor: object) -> bool:
        """Every field this entry gives must match the sighting."""
        if self.mac is not None and (mac is None or normalise_identifier(mac) != self.mac):
            return False
        if self.uuid is not None:
            if uuid is None or uuid.replace("-", "").lower() != self.uuid:
                return False
            if (self.major is not None and major != self.major) or (self.minor is not None and minor != self.minor):
                return False
        return True


class DailyAnonymiser:
    """`anon:<hex>` of an identifier: the same device gets the same id within one local day of
    this process. The secret lives in memory only (a restart starts new ids, like a new day)."""

    __slots__ = ("_secret", "_zone", "_day", "_salt")

    def __init__(self, timezone: str | None = None, secret: bytes | None = None) -> None:
        self._secret = secret if secret is not None else secrets.token_bytes(32)
        self._zone = ZoneInfo(timezone) if timezone else None
        self._day = ""
        self._salt = b""

    def __call__(self, identifier: str, at: float) -> str:
        try:
            day = datetime.fromtimestamp(at, self._zone).date().isoformat()
        except (OverflowError, OSError, ValueError):  # a time no clock gives (a legacy row's): one more "day"
            day = "out-of-range"
        if day != self._day:
            self._salt, self._day = daily_salt(self._secret, day, DEVICE_CONTEXT), day
        return ANONYMOUS_PREFIX + anonymous_id(self._salt, identifier).hex()

    def __repr__(self) -> str:  # never print the secret
        return "DailyAnonymiser(<secret>)"


def is_anonymous(value: object) -> bool:
    return isinstance(value, str) and _ANONYMOUS_FORM.match(value) is not None


@dataclass(frozen=True, slots=True)
class _Guarded:
    """A profile that carries a device id: where to find it and the iBeacon fields."""

    topic: TopicFilter
    identifier: tuple[str, ...]
    uuid: tuple[str, ...] | None
    major: tuple[str, ...] | None
    minor: tuple[str, ...] | None

    @classmethod
    def of(cls, profile: DeviceProfile) -> _Guarded:
        assert profile.device_identifier is not None
        sources = {r.name: tuple(r.source.split(".")) for r in profile.resources}
        return cls(TopicFilter.parse(profile.topic), tuple(profile.device_identifier.split(".")),
                   sources.get("uuid"), sources.get("major"), sources.get("minor"))


class DeviceIdentifiers:
    """The guard: `admit(message)` returns the message with every non-own device id anonymised."""

    def __init__(self, profiles: Sequence[DeviceProfile], own: Sequence[OwnBeacon], anonymiser: DailyAnonymiser) -> None:
        self._guarded = [_Guarded.of(p) for p in profiles if p.device_identifier is not None]
        self._own = tuple(own)
        self.anonymise = anonymiser

    def is_own(self, mac: object, uuid: object, major: object, minor: object) -> bool:
        if not isinstance(mac, str) or isinstance(major, bool) or isinstance(minor, bool):
            return False
        return any(b.matches(mac, uuid if isinstance(uuid, str) else None, major, minor) for b in self._own)

    def guards(self, topic: str) -> bool:
        return any(g.topic.match(topic) is not None for g in self._guarded)

    def admit(self, message: InboundMessage) -> InboundMessage:
        for guarded in self._guarded:
            found = guarded.topic.regex.match(message.topic)
            if found is not None:
                return self._admit(message, guarded, found)
        return message

    def _admit(self, message: InboundMessage, guarded: _Guarded, found: re.Match[str]) -> InboundMessage:
        named = found.groupdict().get("device")
        if named == ANONYMOUS_DEVICE:
            named = None  # admitted already: the level holds no id
        try:
            body = self._anonymised_json(message, guarded, named)
        except (ValueError, RecursionError):  # nested deeper than json.dumps goes: masked as text
            body = self.mask_text(message.payload, message.received_at, extra=[named] if named else [])
        if body is None:
            return message  # one of the shop's own, or admitted already
        topic = message.topic
        if named is not None:
            start, end = found.span("device")
            topic = topic[:start] + ANONYMOUS_DEVICE + topic[end:]
        return replace(message, topic=topic, payload=body)

    def _anonymised_json(self, message: InboundMessage, guarded: _Guarded, named: str | None) -> bytes | None:
        """The payload with the device id anonymised; None to keep the message as it is."""
        # A sighting is well under a kilobyte; a huge payload is not parsed here (it is dead-
        # lettered too_large), only masked as text.
        payload = _json_object(message.payload) if len(message.payload) <= MAX_PARSED_BYTES else None
        if payload is not None:
            identifier = _lookup(payload, guarded.identifier)
            if is_anonymous(identifier) and named is None:
                return None  # admitted already
            same_device = named is None or (isinstance(identifier, str) and normalise_identifier(named) == normalise_identifier(identifier))
            fields = (_lookup(payload, p) if p else None for p in (guarded.uuid, guarded.major, guarded.minor))
            if same_device and self.is_own(identifier, *fields):
                return None
            seen = {v for v in (identifier, named) if isinstance(v, str | int) and not isinstance(v, bool)}
            anonymous = self.anonymise(str(identifier if identifier is not None else named or ""), message.received_at)
            if identifier is not None:
                _store(payload, guarded.identifier, anonymous)
            body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            return _mask_each(body, [str(v) for v in seen], anonymous)
        return self.mask_text(message.payload, message.received_at, extra=[named] if named else [])

    def mask_text(self, raw: bytes, at: float, extra: Sequence[str] = ()) -> bytes:
        """Text that is not a JSON object: each MAC-looking run, and each of `extra` (in any
        spelling), replaced by its anonymous id."""
        masked = _mask_each(raw, extra, None, self.anonymise, at)
        return _MAC_IN_TEXT.sub(lambda m: self.anonymise(m.group().decode("latin-1"), at).encode(), masked)


def _mask_each(raw: bytes, identifiers: Sequence[str], replacement: str | None,
               anonymise: DailyAnonymiser | None = None, at: float = 0.0) -> bytes:
    """Replace every spelling (case, `:`/`-` separators or none) of each identifier."""
    for identifier in identifiers:
        pattern = spelling_pattern(identifier)
        if pattern is None:
            continue
        new = replacement if replacement is not None else anonymise(identifier, at) if anonymise is not None else "anon"
        raw = pattern.sub(new.encode(), raw)
    return raw


def spelling_pattern(identifier: str) -> re.Pattern[bytes] | None:
    """Any spelling of an identifier: case-insensitive, with or without `:`/`-` between pairs."""
    plain = normalise_identifier(identifier)
    if len(plain) < 4:
        return None  # too short to mean anything; masking it would mangle the payload
    pieces = [re.escape(plain[i:i + 2]) for i in range(0, len(plain), 2)]
    return re.compile(rb"(?i)" + rb"[:-]?".join(p.encode() for p in pieces))


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return payload if isinstance(payload, dict) else None


def _lookup(payload: Any, path: tuple[str, ...]) -> Any:
    node = payload
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _store(payload: dict[str, Any], path: tuple[str, ...], value: str) -> None:
    node: Any = payload
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node[path[-1]] = value
