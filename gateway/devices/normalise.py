"""Turn a raw MQTT delivery into a canonical Event, or a DeadLetter that says why not.

Pure: no I/O. This runs once per message on the hot path, so profiles are compiled once and the
topic→profiles lookup is cached.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


from pydantic import ValidationError

from gateway.devices.identifiers import ANONYMOUS_DEVICE, DailyAnonymiser, DeviceIdentifiers, is_anonymous
from gateway.devices.profile import DeviceProfile, Resource, TimeSource
from gateway.devices.redaction import DeadLetterRedactor, Redacted
from gateway.devices.topics import TopicFilter
from gateway.model.deadletter import DeadLetter, DeadLetterReason
from gateway.model.event import AttributeValue, Event, event_from_dict
from gateway.model.gate import ON_SITE_PURPOSE
from gateway.model.inbound import InboundMessage

_TOPIC_CACHE_LIMIT = 10_000
log = logging.getLogger(__name__)


class Rejected(Exception):
    """Raised inside normalisation; becomes a dead letter."""

    def __init__(self, reason: DeadLetterReason, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


# A resource as the hot loop reads it: (resource, path into the payload, required). The path is a
# tuple of keys, split once here rather than per message; () is the payload itself (source ".").
_CompiledResource = tuple[Resource, tuple[str, ...], bool]


@dataclass(frozen=True, slots=True)
class CompiledProfile:
    profile: DeviceProfile
    topic: TopicFilter
    when_present: tuple[tuple[str, ...], ...]
    resources: tuple[_CompiledResource, ...]
    customer: tuple[str, ...] | None
    device_time: tuple[TimeSource, tuple[str, ...]] | None
    # The attribute holding the device's own hardware id (gateway/devices/identifiers.py).
    identifier_attribute: str | None

    @classmethod
    def of(cls, profile: DeviceProfile) -> CompiledProfile:
        return cls(
            profile,
            TopicFilter.parse(profile.topic),
            tuple(_split_path(k) for k in profile.when_present),
            tuple((r, _split_path(r.source), r.required) for r in profile.resources),
            _split_path(profile.customer) if profile.customer is not None else None,
            (profile.device_time, _split_path(profile.device_time.source)) if profile.device_time else None,
            next((r.name for r in profile.resources if r.source == profile.device_identifier), None),
        )


def _reject_constant(name: str) -> Any:
    raise Rejected(DeadLetterReason.INVALID_JSON, f"non-finite number {name} is not allowed")


def _lookup(payload: Any, path: tuple[str, ...]) -> Any:
    node = payload
    for part in path:
        if not isinstance(node, dict):
            return _MISSING
        node = node.get(part, _MISSING)
        if node is _MISSING:
            return node
    return node


def _split_path(path: str) -> tuple[str, ...]:
    return () if path == "." else tuple(path.split("."))


_MISSING = object()


# Text values are capped: a sensor's string is a state name or a firmware version, not a document.
MAX_TEXT = 1024
# An int resource must fit SQLite's INTEGER (and every consumer's int64).
_INT_LIMIT = 2**63


def _as_float(resource: Resource, raw: int | float) -> float:
    """The raw number as a finite float, checked before any arithmetic: a 400-digit integer from
    the wire would raise OverflowError in `raw * scale`, NaN would slip through every comparison."""
    try:
        number = float(raw)
    except OverflowError:
        raise Rejected(DeadLetterReason.OUT_OF_RANGE, f"{resource.name}: a {len(str(raw))}-digit number does not fit a float") from None
    if not math.isfinite(number):
        raise Rejected(DeadLetterReason.OUT_OF_RANGE, f"{resource.name}: {raw!r} is not finite")
    return number


def _convert(resource: Resource, raw: Any) -> AttributeValue:
    if resource.map is not None:
        key = raw if isinstance(raw, str) else json.dumps(raw)
        if key not in resource.map:
            shown = key if len(key) <= 64 else key[:64] + "…"
            raise Rejected(DeadLetterReason.OUT_OF_RANGE, f"{resource.name}: {shown!r} is not one of {sorted(resource.map)}")
        raw = resource.map[key]
    kind = resource.type
    if kind == "bool":
        if not isinstance(raw, bool):
            raise Rejected(DeadLetterReason.WRONG_TYPE, f"{resource.name}: expected a boolean, got {type(raw).__name__}")
        return raw
    if kind == "string":
        if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
            raise Rejected(DeadLetterReason.WRONG_TYPE, f"{resource.name}: expected text, got {type(raw).__name__}")
        if isinstance(raw, str):
            return raw[:MAX_TEXT]
        if isinstance(raw, float) and not math.isfinite(raw):
            raise Rejected(DeadLetterReason.OUT_OF_RANGE, f"{resource.name}: {raw!r} is not finite")
        return str(raw)[:MAX_TEXT]
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise Rejected(DeadLetterReason.WRONG_TYPE, f"{resource.name}: expected a number, got {type(raw).__name__}")
    number = _as_float(resource, raw)
    if kind == "int" and not number.is_integer():
        raise Rejected(DeadLetterReason.WRONG_TYPE, f"{resource.name}: expected an integer, got {raw!r}")
    value = number * resource.scale + resource.offset
    if not math.isfinite(value):
        raise Rejected(DeadLetterReason.OUT_OF_RANGE, f"{resource.name}: {number!r} scaled is not finite")
    if (resource.minimum is not None and value < resource.minimum) or (
        resource.maximum is not None and value > resource.maximum
    ):
        raise Rejected(
            DeadLetterReason.OUT_OF_RANGE,
            f"{resource.name}: {value!r} outside [{resource.minimum}, {resource.maximum}]",
        )
    if kind == "int":
        if not -_INT_LIMIT <= value < _INT_LIMIT:
            raise Rejected(DeadLetterReason.OUT_OF_RANGE, f"{resource.name}: {value!r} does not fit a 64-bit integer")
        return int(round(value))
    return value + 0.0  # -0.0 becomes 0.0: one zero in storage and comparisons


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Device times accepted, as Unix seconds; outside it a message is dead-lettered `bad_time`."""

    earliest: float
    latest: float

    @classmethod
    def years(cls, first: int, last: int) -> TimeWindow:
        # UTC bounds: a day either way of the shop's zone does not matter at this scale.
        return cls(datetime(first, 1, 1, tzinfo=UTC).timestamp(), datetime(last, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())


DEFAULT_TIME_WINDOW = TimeWindow.years(2000, 2100)


def _device_time(spec: TimeSource, path: tuple[str, ...], payload: Any, window: TimeWindow) -> float | None:
    raw = _lookup(payload, path)
    if raw is _MISSING or raw is None:
        return None
    shown = repr(raw) if not isinstance(raw, (str, int)) or len(str(raw)) <= 64 else f"{str(raw)[:64]!r}…"
    try:
        if spec.format in ("unix", "unix_ms"):
            if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
                raise TypeError(f"expected a number, got {type(raw).__name__}")
            seconds = float(raw) / (1000.0 if spec.format == "unix_ms" else 1.0)
        else:
            if not isinstance(raw, str) or len(raw) > 64:
                raise TypeError("expected an ISO 8601 text of at most 64 characters")
            # Tasmota and Zigbee2MQTT send local wall-clock time without an offset; the gateway's
            # clock zone is the shop's, and `timestamp()` reads a naive time as local time.
            seconds = datetime.fromisoformat(raw).timestamp()
    except (TypeError, ValueError, OverflowError) as exc:
        # ValueError also covers year 0/1 (`timestamp()` of 0001-01-01 in a zone east of UTC).
        raise Rejected(DeadLetterReason.BAD_TIME, f"device time {shown}: {exc}") from exc
    if not (window.earliest <= seconds <= window.latest):  # also false for NaN
        raise Rejected(DeadLetterReason.BAD_TIME, f"device time {shown} is outside the accepted years")
    return seconds


class Normaliser:
    """Holds compiled profiles; `normalise` is the per-message entry point."""

    def __init__(
        self,
        profiles: Sequence[DeviceProfile],
        default_site: str,
        max_payload_bytes: int,
        raw_cap: int,
        time_window: TimeWindow = DEFAULT_TIME_WINDOW,
        identifiers: DeviceIdentifiers | None = None,
    ) -> None:
        self._profiles = [CompiledProfile.of(p) for p in profiles]
        # Without an allow-list every device id is a stranger's: anonymised (privacy by default).
        self.identifiers = identifiers if identifiers is not None else DeviceIdentifiers(profiles, (), DailyAnonymiser())
        self.redactor = DeadLetterRedactor(profiles, self.identifiers, raw_cap)
        self._time_window = time_window
        self._default_site = default_site
        self._max_payload = max_payload_bytes
        self._raw_cap = raw_cap
        self._topic_cache: dict[str, list[tuple[CompiledProfile, dict[str, str]]]] = {}

    @property
    def subscriptions(self) -> list[str]:
        return sorted({c.topic.subscription for c in self._profiles})

    def claims(self, topic: str) -> bool:
        """Whether any profile's topic filter matches (used to route a topic to this part)."""
        return bool(self._candidates(topic))

    def _candidates(self, topic: str) -> list[tuple[CompiledProfile, dict[str, str]]]:
        cached = self._topic_cache.get(topic)
        if cached is None:
            cached = [(c, m) for c in self._profiles if (m := c.topic.match(topic)) is not None]
            if len(self._topic_cache) >= _TOPIC_CACHE_LIMIT:
                self._topic_cache.clear()
            self._topic_cache[topic] = cached
        return cached

    def admit(self, message: InboundMessage) -> InboundMessage:
        """The message with every stranger's device id anonymised (gateway/devices/identifiers.py):
        the sensor routes apply it before ingest, so nothing downstream sees the clear id."""
        return self.identifiers.admit(message)

    def dead_letter(self, message: InboundMessage, reason: DeadLetterReason, detail: str) -> DeadLetter:
        """Without customer or device ids in clear (gateway/devices/redaction.py)."""
        redacted = self.redact(message.topic, message.payload, detail, message.received_at)
        return DeadLetter(
            received_at=message.received_at,
            topic=redacted.topic,
            reason=reason,
            detail=redacted.detail,
            raw=redacted.raw,
            raw_size=len(message.payload),
            customer_pseudonym=redacted.customer_pseudonym,
            raw_state=redacted.raw_state,
        )

    def redact(self, topic: str, raw: bytes, detail: str, at: float) -> Redacted:
        """What a dead letter keeps of a message (also for rows kept before: gateway/store/dead_letter_rows.py)."""
        try:
            return self.redactor.redact(topic, raw, detail, at)
        except Exception as exc:  # noqa: BLE001 - isolation boundary: a dead letter is always kept, without the raw if need be
            # The type only: the exception's text or traceback could quote the identifier.
            log.error("redacting a dead letter failed (%s); kept without its payload", type(exc).__name__)
            return Redacted(self._safe_topic(topic), b"", "(detail withheld: redaction failed)", None, "dropped")

    def _safe_topic(self, topic: str) -> str:
        """A topic that may carry a device id, as its profile's filter (no id) instead."""
        return next((c.profile.topic for c, _ in self._candidates(topic) if c.profile.device_identifier), topic)

    def normalise(self, message: InboundMessage) -> Event | DeadLetter:
        try:
            return self._normalise(self.identifiers.admit(message))  # again: a no-op once admitted
        except Rejected as exc:
            return self.dead_letter(message, exc.reason, exc.detail)

    def _normalise(self, message: InboundMessage) -> Event:
        if len(message.payload) > self._max_payload:
            raise Rejected(DeadLetterReason.TOO_LARGE, f"{len(message.payload)} bytes > cap {self._max_payload}")
        candidates = self._candidates(message.topic)
        if not candidates:
            raise Rejected(DeadLetterReason.UNKNOWN_TOPIC, "no device profile matches this topic")
        try:
            text = message.payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Rejected(DeadLetterReason.INVALID_UTF8, str(exc)) from exc
        json_payload: Any = _MISSING
        for compiled, names in candidates:
            profile = compiled.profile
            if profile.format == "text":
                payload: Any = text.strip()
            else:
                if json_payload is _MISSING:
                    json_payload = _parse_json(text)
                payload = json_payload
            if compiled.when_present and not _has_all(payload, compiled.when_present):
                continue
            return self._build(message, compiled, names, payload)
        raise Rejected(DeadLetterReason.NO_PROFILE_MATCH, "the payload fits none of the profiles for this topic")

    def _build(self, message: InboundMessage, compiled: CompiledProfile, names: dict[str, str], payload: Any) -> Event:
        profile = compiled.profile
        if profile.format == "json" and not isinstance(payload, dict):
            raise Rejected(DeadLetterReason.WRONG_TYPE, f"expected a JSON object, got {type(payload).__name__}")
        attributes: dict[str, AttributeValue] = {}
        for resource, path, required in compiled.resources:
            raw = _lookup(payload, path)
            if raw is _MISSING or raw is None:
                if required:
                    raise Rejected(DeadLetterReason.MISSING_FIELD, f"{resource.name}: {resource.source!r} is missing")
                continue
            attributes[resource.name] = _convert(resource, raw)
        customer_id: str | None = None
        if compiled.customer is not None:
            raw_customer = _lookup(payload, compiled.customer)
            if raw_customer is _MISSING or raw_customer in (None, ""):
                raise Rejected(DeadLetterReason.MISSING_FIELD, f"customer id {profile.customer!r} is missing")
            if not isinstance(raw_customer, (str, int)) or isinstance(raw_customer, bool):
                raise Rejected(DeadLetterReason.WRONG_TYPE, "customer id must be text or an integer")
            if isinstance(raw_customer, int) and abs(raw_customer) >= _INT_LIMIT:
                raise Rejected(DeadLetterReason.OUT_OF_RANGE, "customer id: number too large")
            customer_id = f"{profile.customer_prefix}{raw_customer}"
        purpose, device = profile.purpose, names.get("device", message.topic)
        if compiled.identifier_attribute is not None and is_anonymous(attributes.get(compiled.identifier_attribute)):
            # A stranger's device (a customer's phone): counted in the shop, never synced.
            purpose, device = ON_SITE_PURPOSE, ANONYMOUS_DEVICE
        try:
            # From a mapping: validated as Event(...) is, ~1 µs less a message (no ArgsKwargs wrapping).
            return event_from_dict({
                "received_at": message.received_at,
                "device_time": _device_time(*compiled.device_time, payload, self._time_window) if compiled.device_time else None,
                "site": names.get("site", self._default_site),
                "device": device,
                "kind": profile.kind,
                "purpose": purpose,
                "customer_id": customer_id,
                "profile": profile.name,
                "topic": message.topic,
                "attributes": attributes,
            })
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            raise Rejected(DeadLetterReason.INVALID_EVENT, f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from exc


def _has_all(payload: Any, paths: tuple[tuple[str, ...], ...]) -> bool:
    if not isinstance(payload, dict):
        return False
    for path in paths:
        if _lookup(payload, path) is _MISSING:
            return False
    return True


# One decoder for all messages: json.loads with arguments builds a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _parse_json(text: str) -> Any:
    try:
        # Duplicate keys: the last one wins, as in most JSON parsers (RFC 8259 leaves it open);
        # detecting them would need object_pairs_hook, which doubles the parse cost.
        return _DECODER.decode(text)
    except Rejected:
        raise
    except RecursionError as exc:
        raise Rejected(DeadLetterReason.INVALID_JSON, "nesting too deep") from exc
    except ValueError as exc:
        raise Rejected(DeadLetterReason.INVALID_JSON, str(exc)) from exc
