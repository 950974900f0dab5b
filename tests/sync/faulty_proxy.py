"""A small HTTP/1.1 proxy on 127.0.0.1 between the gateway and the real reference service, that
injects the faults the network and a struggling service really produce.

It understands just enough HTTP for the sync API (Content-Length bodies, keep-alive) and opens a
fresh upstream connection per request. The fault applies to `POST /v1/events:batch` only unless
`all_paths` is set, so the changes feed keeps working while batches fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections import Counter
from enum import StrEnum


class Fault(StrEnum):
    NONE = "none"
    DOWN = "down"  # not listening: connection refused
    ERROR_500 = "500"  # answer 500 without forwarding
    TOO_MANY = "429"  # answer 429 with Retry-After: retry_after
    SLOW = "slow"  # forward, then hold the answer `delay_s` (longer than the client's timeout)
    RESET_AFTER_COMMIT = "reset_after_commit"  # forward (the service stores), then reset: answer lost
    RESET_MID_REQUEST = "reset_mid_request"  # reset while the request body is still arriving
    PARTIAL = "partial"  # forward, then drop every second accepted id from the answer


class FaultyProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.fault = Fault.NONE
        self.all_paths = False
        self.retry_after = 1
        self.delay_s = 3.0
        self.faults_left: int | None = None  # None: every matching request; else this many, then pass
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[float, str, str]] = []  # (loop time, path, fault applied)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port or 0, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            # A service that goes down takes its open (keep-alive) connections with it.
            for writer in list(self._clients):
                _reset(writer)
            await self._server.wait_closed()
            self._server = None

    async def set_fault(self, fault: Fault, count: int | None = None) -> None:
        """Switch the fault; DOWN closes the listening socket, leaving DOWN listens again."""
        self.faults_left = count
        if fault is Fault.DOWN and self._server is not None:
            await self.stop()
        elif fault is not Fault.DOWN and self._server is None:
            await self.start()
        self.fault = fault

    def _take_fault(self, path: str) -> Fault:
        if self.fault is Fault.NONE or (not self.all_paths and not path.startswith("/v1/events:batch")):
            return Fault.NONE
        if self.faults_left is not None:
            if self.faults_left <= 0:
                return Fault.NONE
            self.faults_left -= 1
        self.hits[self.fault.value] += 1
        return self.fault

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
                path = request_line.split(" ")[1] if " " in request_line else ""
                length = _content_length(head)
                fault = self._take_fault(path)
                self.requests.append((asyncio.get_running_loop().time(), path, fault.value))
                if fault is Fault.RESET_MID_REQUEST:
                    await reader.readexactly(length // 2)
                    _reset(writer)
                    return
                body = await reader.readexactly(length)
                if fault is Fault.ERROR_500:
                    writer.write(_response(500, b'{"error":"injected","detail":"500"}'))
                elif fault is Fault.TOO_MANY:
                    writer.write(_response(429, b'{"error":"slow_down"}', {"Retry-After": str(self.retry_after)}))
                else:
                    answer = await self._forward(head, body)
                    if fault is Fault.RESET_AFTER_COMMIT:
                        _reset(writer)
                        return
                    if fault is Fault.SLOW:
                        await asyncio.sleep(self.delay_s)
                    if fault is Fault.PARTIAL:
                        answer = _drop_half_accepted(answer)
                    writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._clients.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _forward(self, head: bytes, body: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(*self.upstream)
        try:
            writer.write(head + body)
            await writer.drain()
            response_head = await reader.readuntil(b"\r\n\r\n")
            response_body = await reader.readexactly(_content_length(response_head))
            return response_head + response_body
        finally:
            writer.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def _response(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    reason = {500: "Internal Server Error", 429: "Too Many Requests"}.get(status, "Status")
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _drop_half_accepted(answer: bytes) -> bytes:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if status != 200:
        return answer
    data = json.loads(body)
    data["accepted"] = data["accepted"][::2]
    new_body = json.dumps(data).encode()
    lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"content-length")]
    return b"\r\n".join(lines) + f"\r\nContent-Length: {len(new_body)}".encode() + b"\r\n\r\n" + new_body


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a crashed middlebox or a dropped link looks to the client."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
