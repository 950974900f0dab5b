"""The broker socket wrapper: paho's many small reads and writes become few system calls, and
nothing read ahead or written late is lost."""

from __future__ import annotations

import asyncio
import socket

import pytest

from gateway.mqtt_socket import CoalescingSocket


class CountingSocket(socket.socket):
    """A real socket that counts the system calls the wrapper makes on it."""

    sends = 0
    recvs = 0

    def send(self, data, flags=0):  # type: ignore[no-untyped-def, override]
        self.sends += 1
        return super().send(data, flags)

    def recv(self, bufsize, flags=0):  # type: ignore[no-untyped-def, override]
        self.recvs += 1
        return super().recv(bufsize, flags)


def _pair() -> tuple[CountingSocket, socket.socket]:
    left, right = socket.socketpair()
    ours = CountingSocket(left.family, left.type, left.proto, fileno=left.detach())
    ours.setblocking(False)
    return ours, right


async def test_reads_are_served_from_one_system_call() -> None:
    raw, peer = _pair()
    wrapped = CoalescingSocket(raw, asyncio.get_running_loop(), on_drained=lambda: None)
    peer.sendall(b"\x40\x02\x00\x01" * 100)  # a hundred PUBACK packets
    await asyncio.sleep(0.01)
    parts = []
    while True:
        try:
            parts.append(wrapped.recv(1))
        except BlockingIOError:
            break
    assert b"".join(parts) == b"\x40\x02\x00\x01" * 100
    assert raw.recvs == 2  # one read of everything, one that finds the socket drained
    assert wrapped.buffered() == 0
    peer.close()
    assert wrapped.recv(1) == b""  # the peer's close still reads as end of stream
    wrapped.close()


async def test_writes_of_one_loop_turn_leave_in_one_send() -> None:
    raw, peer = _pair()
    wrapped = CoalescingSocket(raw, asyncio.get_running_loop(), on_drained=lambda: None)
    for mid in range(1, 501):
        assert wrapped.send(b"\x40\x02" + mid.to_bytes(2, "big")) == 4
    assert raw.sends == 0  # nothing written until the turn ends
    await asyncio.sleep(0)
    assert raw.sends == 1
    received = b""
    while len(received) < 2000:
        received += peer.recv(4096)
    assert received == b"".join(b"\x40\x02" + mid.to_bytes(2, "big") for mid in range(1, 501))
    wrapped.close()
    peer.close()


async def test_what_the_socket_cannot_take_is_written_when_it_can_then_paho_is_called_back() -> None:
    raw, peer = _pair()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    drained = asyncio.Event()
    wrapped = CoalescingSocket(raw, asyncio.get_running_loop(), on_drained=drained.set)
    payload = bytes(range(256)) * 4096  # 1 MiB: far more than the socket buffers hold
    assert wrapped.send(payload) == len(payload)
    with pytest.raises(BlockingIOError):
        wrapped.send(b"more")  # past the cap: paho keeps its packet and waits for on_drained
    await asyncio.sleep(0)
    received = bytearray()
    peer.setblocking(False)
    async with asyncio.timeout(10):
        while len(received) < len(payload):
            try:
                received += peer.recv(65536)
            except BlockingIOError:
                await asyncio.sleep(0.001)
        await drained.wait()
    assert bytes(received) == payload
    wrapped.close()
    peer.close()


async def test_close_sends_what_is_buffered_first() -> None:
    raw, peer = _pair()
    wrapped = CoalescingSocket(raw, asyncio.get_running_loop(), on_drained=lambda: None)
    wrapped.send(b"\xe0\x00")  # DISCONNECT, queued in the same turn as the close
    wrapped.close()
    assert peer.recv(16) == b"\xe0\x00"
    assert peer.recv(16) == b""
    peer.close()
