"""What a dead letter may keep of a rejected message: no customer id and no device id in clear. Pure.

A dead letter keeps the raw payload so an operator can see why a device's message did not fit.
Payloads of profiles that carry a customer id (a card tap's UID) or a device id (a phone's MAC)
are redacted first:
- The customer id (the profile's `customer` path with its `customer_prefix`; and any top-level
  `customer_id`, as consent and erasure messages carry) is replaced by a marker, and its keyed
  pseudonym (the same one the consent part uses for the customer everywhere else) goes into the
  dead letter's own column: erasure and export find the customer's dead letters by that exact,
  indexed value, never by searching the payload.
- Device ids are anonymised as at the gateway's door (gateway/devices/identifiers.py).
- On a topic no device profile claims (another part's: consent, erasure, Hermes; or unknown), a
  malformed message may carry an id under any key: every text value is replaced by the marker
  (keys, numbers and the shape stay, for the operator to see why it failed).
- A payload that cannot be parsed is kept bounded (`UNPARSED_CAP`) and marked `unparsed`: the
  customer id is looked for by its key, pseudonymised and cut out; every run of 8 or more hex
  digits or digits (how card UIDs and MACs are written) is masked as well.
`raw_state` says which of this happened: `kept` (nothing personal in it), `redacted`, `unparsed`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.devices.identifiers import DeviceIdentifiers, spelling_pattern
from gateway.devices.profile import DeviceProfile
from gateway.devices.topics import TopicFilter
from gateway.model.inbound import InboundMessage

Pseudonymise = Callable[[str], str]

REDACTED = "<redacted>"
UNPARSED_CAP = 512
CUSTOMER_ID_KEY = "customer_id"  # consent and erasure messages (gateway/consent/model.py)
_LONG_RUN = re.compile(rb"(?i)(?<![0-9a-z])(?:[0-9a-f][:-]?){8,}(?![0-9a-z])|\d{8,}")


class RawState:
    KEPT = "kept"
    REDACTED = "redacted"
    UNPARSED = "unparsed"


@dataclass(frozen=True, slots=True)
class Redacted:
    topic: str
    raw: bytes
    detail: str
    customer_pseudonym: str | None
    raw_state: str


@dataclass(frozen=True, slots=True)
class _CustomerPath:
    topic: TopicFilter
    path: tuple[str, ...]
    prefix: str


class DeadLetterRedactor:
    def __init__(self, profiles: Sequence[DeviceProfile], identifiers: DeviceIdentifiers, raw_cap: int) -> None:
        filters = [TopicFilter.parse(p.topic) for p in profiles]
        self._claimed: Callable[[str], bool] = lambda topic: any(f.match(topic) is not None for f in filters)
        self._customers = [
            _CustomerPath(TopicFilter.parse(p.topic), tuple(p.customer.split(".")), p.customer_prefix)
            for p in profiles if p.customer is not None
        ]
        self._identifiers = identifiers
        self._raw_cap = raw_cap
        self._pseudonymise: Pseudonymise | None = None

    def use_pseudonyms(self, pseudonymise: Pseudonymise) -> None:
        """The consent part's pseudonymiser (wired by the composition root). Without it, ids are
        still cut out of dead letters; there is then no erasure to find them for."""
        self._pseudonymise = pseudonymise

    def redact(self, topic: str, raw: bytes, detail: str, at: float) -> Redacted:
        state = RawState.KEPT
        if self._identifiers.guards(topic):
            admitted = self._identifiers.admit(InboundMessage(topic, raw, 0, 0, at))
            device_ids = [n for n in _names(topic, admitted.topic)]
            detail = self._identifiers.mask_text(detail.encode(), at, extra=device_ids).decode("utf-8", "replace")
            if admitted.topic != topic or admitted.payload != raw:
                state = RawState.REDACTED
            topic, raw = admitted.topic, admitted.payload
        paths = [(c.path, c.prefix) for c in self._customers if c.topic.match(topic) is not None]
        paths.append(((CUSTOMER_ID_KEY,), ""))
        payload = _json_object(raw)
        # A topic no device profile claims is another part's (consent, erasure, Hermes) or a
        # stranger's: a malformed message may carry an id under any key.
        foreign = not self._claims(topic)
        if payload is None and state == RawState.KEPT and not foreign and not self._carries_customer(topic):
            return Redacted(topic, raw[: self._raw_cap], detail[:500], None, state)
        pseudonym: str | None = None
        if payload is not None:
            values: list[str] = []
            for path, prefix in paths:
                value = _take(payload, path)
                if value is not None:
                    values.append(value)
                    pseudonym = pseudonym or self._pseudonym(prefix + value)
            masked = _mask_strings(payload) if foreign else 0
            if values or masked:
                raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
                detail = _mask_values(detail, values)
                state = RawState.REDACTED
            return Redacted(topic, raw[: self._raw_cap], detail[:500], pseudonym, state)
        cut, raw = _cut_by_key(raw, paths)
        for value, prefix in cut:
            pseudonym = pseudonym or self._pseudonym(prefix + value)
        raw = _LONG_RUN.sub(REDACTED.encode(), raw)
        detail = _mask_values(detail, [v for v, _ in cut])
        detail = _LONG_RUN.sub(REDACTED.encode(), detail.encode()).decode("utf-8", "replace")
        return Redacted(topic, raw[: min(self._raw_cap, UNPARSED_CAP)], detail[:500], pseudonym, RawState.UNPARSED)

    def _claims(self, topic: str) -> bool:
        return self._claimed(topic)

    def _carries_customer(self, topic: str) -> bool:
        return any(c.topic.match(topic) is not None for c in self._customers)

    def _pseudonym(self, customer_id: str) -> str | None:
        return self._pseudonymise(customer_id) if self._pseudonymise is not None else None


def _mask_strings(root: Any) -> int:
    """Every text value (not the keys, numbers or booleans) replaced by the marker, in place.
    Iterative: a payload nested as deep as the JSON parser allows must not overflow the stack."""
    masked = 0
    stack = [root]
    while stack:
        node = stack.pop()
        items = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        for key, value in items:
            if isinstance(value, str) and value != REDACTED:
                node[key] = REDACTED
                masked += 1
            elif isinstance(value, dict | list):
                stack.append(value)
    return masked


def _names(original: str, admitted: str) -> list[str]:
    """The topic levels the guard replaced (the device id in the topic)."""
    before, after = original.split("/"), admitted.split("/")
    if len(before) != len(after):
        return []
    return [b for b, a in zip(before, after, strict=True) if a != b]


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


def _take(payload: dict[str, Any], path: tuple[str, ...]) -> str | None:
    """The id at `path` as text, replaced in place by the marker; None when there is none."""
    node: Any = payload
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or path[-1] not in node:
        return None
    value = node[path[-1]]
    if value is None or value == "" or isinstance(value, bool):
        return None  # no id: nothing to cut out
    node[path[-1]] = REDACTED
    if not isinstance(value, str | int):
        return None  # not an id the gateway would accept; cut out all the same
    return str(value)


def _cut_by_key(raw: bytes, paths: Sequence[tuple[tuple[str, ...], str]]) -> tuple[list[tuple[str, str]], bytes]:
    """In text that is not JSON: `"KEY": "value"` or `"KEY": 123` for each path's last key."""
    found: list[tuple[str, str]] = []
    for path, prefix in paths:
        pattern = re.compile(rb'("' + re.escape(path[-1].encode()) + rb'"\s*:\s*)("((?:[^"\\]|\\.)*)"|-?\d+)')

        def cut(match: re.Match[bytes], prefix: str = prefix) -> bytes:
            value = match.group(3) if match.group(3) is not None else match.group(2)
            if value:
                found.append((value.decode("utf-8", "replace"), prefix))
            return match.group(1) + b'"' + REDACTED.encode() + b'"'

        raw = pattern.sub(cut, raw)
    return found, raw


def _mask_values(detail: str, values: Sequence[str]) -> str:
    for value in values:
        pattern = spelling_pattern(value)
        if pattern is not None:
            detail = pattern.sub(REDACTED.encode(), detail.encode()).decode("utf-8", "replace")
        elif value:
            detail = detail.replace(value, REDACTED)
    return detail
