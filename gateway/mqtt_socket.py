"""The broker connection's TCP socket as paho sees it: read in large chunks, written once per loop turn.

paho parses a packet with three `recv` calls at least (the command byte, each byte of the length,
then the body) and writes each packet with its own `send`: on the ingest path that is four system
calls per message plus one per PUBACK, more than the rest of the gateway costs per event. Here
`recv` is served from one 64 KiB read and everything paho sends during a loop turn (a committed
batch's PUBACKs) leaves in one `send` at the end of the turn. Used for plain TCP (the loopback
listener the gateway uses on the Pi); TLS sockets buffer on their own and are left as they are.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import paho.mqtt.client as paho

_READ_CHUNK = 65536
# Beyond this much unsent data (a broker that stopped reading), `send` pushes back on paho, which
# then keeps its packets queued itself until `on_drained`.
_WRITE_CAP = 1 << 20


class CoalescingSocket:
    """Duck-types the parts of `socket.socket` paho uses; anything else goes to the real socket."""

    def __init__(self, sock: socket.socket, loop: asyncio.AbstractEventLoop, on_drained: Callable[[], object]) -> None:
        self.raw = sock
        self._loop = loop
        self._on_drained = on_drained
        self._inbox = b""
        self._inbox_pos = 0
        self._outbox = bytearray()
        self._waiting_writable = False
        self._closed = False

    # -- reading ------------------------------------------------------------------------------
    def recv(self, bufsize: int) -> bytes:
        """Up to `bufsize` bytes; raises BlockingIOError when nothing is buffered or readable."""
        if self._inbox_pos >= len(self._inbox):
            data = self.raw.recv(_READ_CHUNK)
            if not data:
                return data  # the broker closed the connection
            self._inbox, self._inbox_pos = data, 0
        start = self._inbox_pos
        chunk = self._inbox[start : start + bufsize]
        self._inbox_pos = start + len(chunk)
        return chunk

    def buffered(self) -> int:
        """Bytes already read from the socket but not yet taken by paho. The socket no longer
        signals them as readable, so whoever drives paho must keep reading while this is > 0."""
        return len(self._inbox) - self._inbox_pos

    # -- writing ------------------------------------------------------------------------------
    def send(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise OSError("socket closed")
        if len(self._outbox) >= _WRITE_CAP:
            raise BlockingIOError()
        if not self._outbox:
            self._loop.call_soon(self.flush)  # the first bytes this turn: one send when it ends
        self._outbox += data
        return len(data)

    def flush(self) -> None:
        """Write what is buffered; what the socket does not take now is written when it is writable."""
        if self._closed or not self._outbox:
            return
        try:
            sent = self.raw.send(self._outbox)
        except BlockingIOError:
            sent = 0
        except OSError:
            # The connection is broken: paho learns it on its next read and reconnects; the broker
            # redelivers whatever these PUBACKs would have acknowledged.
            self._outbox.clear()
            return
        del self._outbox[:sent]
        if self._outbox and not self._waiting_writable:
            self._waiting_writable = True
            self._loop.add_writer(self.raw, self._writable)

    def _writable(self) -> None:
        self.flush()
        if self._outbox or self._closed:
            return
        self._waiting_writable = False
        self._loop.remove_writer(self.raw)
        self._on_drained()

    # -- the rest -----------------------------------------------------------------------------
    def close(self) -> None:
        """Closing follows paho's DISCONNECT (and its last-will substitute): give them their one try."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        if self._waiting_writable:
            self._loop.remove_writer(self.raw)
            self._waiting_writable = False
        self.raw.close()

    def fileno(self) -> int:
        return self.raw.fileno()

    def setblocking(self, flag: bool) -> None:
        self.raw.setblocking(flag)

    def __getattr__(self, name: str) -> object:
        return getattr(self.raw, name)


class PahoClient(paho.Client):
    """paho's client, with its plain TCP socket wrapped by `wrap_socket` (a `CoalescingSocket`).

    `_create_socket` is paho's factory for the connection (its websocket transport wraps the socket
    the same way); TLS and websocket connections are left as paho made them."""

    wrap_socket: Callable[[socket.socket], object] | None = None

    def _create_socket(self):  # type: ignore[no-untyped-def]
        sock = super()._create_socket()
        if self.wrap_socket is not None and type(sock) is socket.socket:
            return self.wrap_socket(sock)
        return sock


def drop_wakeup_pipe(client: paho.Client) -> None:
    """paho writes a byte to a socketpair for every packet it queues (every PUBACK) to wake the
    select() of its own network thread. There is no such thread here (the event loop learns of
    pending writes through on_socket_register_write), so that is one wasted send() system call
    per message on the ingest path. paho recreates the pair on each connect; it tolerates None."""
    for name in ("_sockpairR", "_sockpairW"):
        sock = getattr(client, name, None)
        if sock is not None:
            sock.close()
            setattr(client, name, None)
