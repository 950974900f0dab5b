"""Reading Wyoming events off a socket with limits, writing them with the `wyoming` library.

The wire format (one JSON header line; then `data_length` bytes of more JSON data; then
`payload_length` bytes of payload) is the `wyoming` package's. Its own reader trusts the lengths a
peer declares and reads lines without bound, so a hostile peer could make us allocate anything:
here every length is checked before it is read, and what does not parse is a `ProtocolError` with
the reason (sent back as an `error` event before the connection is closed).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from wyoming.event import Event, async_write_event


class ProtocolError(ValueError):
    """The peer sent something that is not a Wyoming event within our limits."""


@dataclass(frozen=True, slots=True)
class Limits:
    header_bytes: int  # the JSON header line, and the extra JSON data
    payload_bytes: int


def stream_limit(limits: Limits) -> int:
    """The StreamReader buffer limit: readline() refuses longer lines."""
    return limits.header_bytes + 1


def _length(header: dict[str, Any], key: str, limit: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f"{key} must be a non-negative integer, not {value!r}")
    if value > limit:
        raise ProtocolError(f"{key} {value} exceeds the limit of {limit} bytes")
    return value


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"{what} is not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise ProtocolError(f"{what} is not a JSON object")
    return parsed


async def read_event(reader: asyncio.StreamReader, limits: Limits) -> Event | None:
    """The next event, or None at the end of the stream (also mid-event: the peer went away)."""
    try:
        line = await reader.readline()
    except ValueError as exc:  # asyncio's LimitOverrunError comes out of readline as ValueError
        raise ProtocolError(f"event header longer than {limits.header_bytes} bytes") from exc
    if not line:
        return None
    if not line.endswith(b"\n"):
        return None  # cut off by the peer going away
    header = _json_object(line, "event header")
    event_type = header.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise ProtocolError("event header has no type")
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise ProtocolError("event data is not a JSON object")
    data_length = _length(header, "data_length", limits.header_bytes)
    payload_length = _length(header, "payload_length", limits.payload_bytes)
    try:
        if data_length:
            data = {**data, **_json_object(await reader.readexactly(data_length), "event data")}
        payload = await reader.readexactly(payload_length) if payload_length else None
    except asyncio.IncompleteReadError:
        return None
    return Event(type=event_type, data=data, payload=payload)


async def write_event(writer: asyncio.StreamWriter, event: Event) -> None:
    await async_write_event(event, writer)
