"""Bad input to the Wyoming server and to the bounded event reader: a clear `error` event, nothing
allocated on a peer's say-so, no crash, and the server goes on serving other clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.info import Describe, Info

from gateway.wyoming.framing import Limits, ProtocolError, read_event, stream_limit
from tests.support.gateway import gateway_settings, running_gateway
from tests.support.mosquitto import Mosquitto

LIMITS = Limits(header_bytes=1024, payload_bytes=4096)


@pytest.fixture
async def port(broker: Mosquitto, tmp_path: Path) -> AsyncIterator[int]:
    settings = gateway_settings(
        broker, tmp_path,
        wyoming={"enabled": True, "server": {"enabled": True, "port": 0}, "max_header_bytes": 1024, "max_payload_bytes": 4096},
    )
    async with running_gateway(settings, timeout=60) as runtime:
        parts = runtime.service("wyoming")
        await parts.server_started.wait()
        yield parts.server.port


async def _exchange(port: int, raw: bytes) -> tuple[list[Event], bool]:
    """Send raw bytes; the events the server answered with, and whether it closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        events: list[Event] = []
        while True:
            try:
                event = await asyncio.wait_for(async_read_event(reader), 2.0)
            except TimeoutError:
                return events, False  # still open, nothing more to say
            if event is None:
                return events, True
            events.append(event)
    finally:
        writer.close()


def _header(**fields: Any) -> bytes:
    return json.dumps(fields).encode() + b"\n"


async def _still_serves(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await async_write_event(Describe().event(), writer)
        event = await asyncio.wait_for(async_read_event(reader), 30)
        assert event is not None and Info.is_type(event.type)
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"this is not json\n", "not JSON"),
        (b"[1, 2, 3]\n", "not a JSON object"),
        (_header(data={}), "no type"),
        (b'{"type": "describe", "pad": "' + b"x" * 2000 + b'"}\n', "longer than 1024 bytes"),
        (_header(type="audio-chunk", data_length=10**9), "data_length 1000000000 exceeds"),
        (_header(type="audio-chunk", payload_length=5000), "payload_length 5000 exceeds the limit of 4096"),
        (_header(type="audio-chunk", payload_length=-1), "non-negative integer"),
        (_header(type="describe", data_length=5) + b"nope!", "event data is not JSON"),
    ],
    ids=["junk", "array", "no-type", "long-header", "data-length", "payload-length", "negative-length", "bad-data"],
)
async def test_broken_framing_gets_an_error_and_the_connection_is_closed(port: int, raw: bytes, reason: str) -> None:
    events, closed = await _exchange(port, raw)
    assert [event.type for event in events] == ["error"], events
    assert reason in events[0].data["text"], events[0].data
    assert closed, "after a framing error the stream cannot be trusted"
    await _still_serves(port)


async def test_unknown_types_and_bad_audio_get_an_error_and_the_connection_goes_on(port: int) -> None:
    raw = (
        _header(type="make-coffee", data={})
        + _header(type="audio-chunk", data={"rate": 100, "width": 2, "channels": 1}, payload_length=4) + b"\0\0\0\0"
        + _header(type="audio-chunk", data={"rate": 16000, "width": 2, "channels": 1}, payload_length=3) + b"\0\0\0"
        + _header(type="synthesize", data={"voice": 3})
        + _header(type="describe")
    )
    events, closed = await _exchange(port, raw)
    assert [event.type for event in events] == ["error", "error", "error", "error", "info"], events
    texts = [event.data["text"] for event in events[:4]]
    assert "unknown event type 'make-coffee'" in texts[0]
    assert "sample rate 100 Hz" in texts[1]
    assert "not whole 2-byte frames" in texts[2]
    assert "invalid synthesize event" in texts[3]
    assert not closed


async def test_an_utterance_longer_than_the_limit_is_refused(broker: Mosquitto, tmp_path: Path) -> None:
    settings = gateway_settings(
        broker, tmp_path, wyoming={"enabled": True, "server": {"enabled": True, "port": 0}, "max_utterance_s": 2},
    )
    async with running_gateway(settings, timeout=60) as runtime:
        parts = runtime.service("wyoming")
        await parts.server_started.wait()
        second = b"\0\0" * 16000
        chunk = _header(type="audio-chunk", data={"rate": 16000, "width": 2, "channels": 1}, payload_length=len(second)) + second
        events, _ = await _exchange(parts.server.port, _header(type="transcribe", data={}) + chunk * 3)
    assert [event.type for event in events] == ["error"], events
    assert "longer than 2 s" in events[0].data["text"]


# -- the bounded reader on its own, against generated headers -----------------------------------

_lengths = st.one_of(st.none(), st.integers(-(2**40), 2**40), st.booleans(), st.text(max_size=5), st.floats(allow_nan=True))
_headers = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(st.text(max_size=20), st.integers(), st.none()),
        "data": st.one_of(st.none(), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3), st.lists(st.integers(), max_size=3), st.text(max_size=5)),
        "data_length": _lengths,
        "payload_length": _lengths,
    },
)


async def _read_all(raw: bytes) -> list[Event]:
    reader = asyncio.StreamReader(limit=stream_limit(LIMITS))
    reader.feed_data(raw)
    reader.feed_eof()
    events = []
    while (event := await read_event(reader, LIMITS)) is not None:
        events.append(event)
    return events


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=_headers, tail=st.binary(max_size=200), newline=st.booleans())
def test_generated_headers_give_events_within_the_limits_or_a_protocol_error(header: dict[str, Any], tail: bytes, newline: bool) -> None:
    raw = json.dumps(header).encode() + (b"\n" if newline else b"") + tail
    try:
        events = asyncio.run(_read_all(raw))
    except ProtocolError as exc:
        assert str(exc)  # a reason the peer is told
        return
    for event in events:
        assert isinstance(event.type, str) and event.type
        assert isinstance(event.data, dict)
        assert event.payload is None or len(event.payload) <= LIMITS.payload_bytes


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=3000))
def test_arbitrary_bytes_never_escape_as_anything_but_a_protocol_error(raw: bytes) -> None:
    try:
        asyncio.run(_read_all(raw))
    except ProtocolError:
        pass
