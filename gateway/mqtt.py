"""paho-mqtt 2 bridged into asyncio: one thread, the event loop drives the socket.

Why not `loop_start()`: a second thread would fight the event loop for the GIL on every message.
Here the loop watches the socket (`add_reader`/`add_writer`) and paho only parses packets, so a
burst is read until the socket is drained and handed on as one batch.

QoS 1 messages are acknowledged only when the handler says so (`manual_ack=True`): the ingest
path calls `ack()` after the event is committed, so what the broker thinks is delivered is on disk.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.backoff import Backoff
from gateway.config.settings import MqttSettings
from gateway.devices.topics import TopicFilter
from gateway.model.inbound import InboundMessage
from gateway.listeners import Listeners
from gateway.mqtt_routes import Route, RouteTable
from gateway.mqtt_socket import CoalescingSocket, PahoClient, drop_wakeup_pipe

if TYPE_CHECKING:
    from paho.mqtt.client import SocketLike  # a typing-only Protocol in paho

log = logging.getLogger(__name__)

MessageHandler = Callable[[InboundMessage], None]
HandlerErrorSink = Callable[[InboundMessage, Exception], None]
_MAX_PACKETS_PER_WAKEUP = 2000


class MqttConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


class MqttClient:
    """Subscriptions are declared with `route()` before `run()`; `run()` connects, reconnects with
    backoff and resubscribes until cancelled."""

    def __init__(self, settings: MqttSettings, will: Will | None = None) -> None:
        self._settings = settings
        self._routes = RouteTable()
        self._client = self._make_client(will)
        self._will = will
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._misc_task: asyncio.Task[None] | None = None
        self._pending_subscribe: int | None = None
        self._messages_seen = 0
        # Backpressure: QoS 1/2 messages handed on but not yet acknowledged. Reading stops at
        # `_read_limit` and resumes once half are acknowledged; see `_read_ready`.
        self._unacked = 0
        self._read_limit = 2 * settings.receive_maximum
        self._reading_paused = False
        self._closing = False
        # Told once subscribed (the ready signal, Home Assistant's discovery): a failing callback
        # is logged and counted; it must not break paho's packet handling or the other callbacks.
        self.on_connected: Listeners[[]] = Listeners("mqtt on_connected")
        # Where a message goes whose handler raised (the app dead-letters it); None: ack and drop.
        self.on_handler_error: HandlerErrorSink | None = None

    # -- public API -------------------------------------------------------------------------
    def route(
        self, subscription: str, handler: MessageHandler, *, qos: int = 1, auto_ack: bool = False, fallback: bool = False
    ) -> None:
        """Deliver messages matching `subscription` (an MQTT filter) to `handler`, in the loop.

        With `auto_ack` the message is acknowledged as soon as the handler returns; otherwise the
        handler (or whoever it hands the message to) must call `ack()`. A filter that overlaps
        another route's raises `RouteOverlap`, unless one of them is a `fallback` (it then gets
        only what no other route takes): see gateway/mqtt_routes.py.
        """
        self._routes.add(Route(subscription, qos, handler, auto_ack, fallback))
        if self._connected.is_set():
            self._client.subscribe(subscription, qos=qos)

    def route_for(self, topic: str) -> Route | None:
        """The route a message on `topic` goes to (None: acknowledged and dropped)."""
        return self._routes.find(topic)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        """Wait until connected and subscribed."""
        await self._connected.wait()

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        """Queue a message for the broker. While disconnected paho keeps QoS 1 messages and sends
        them after reconnecting; publishing never raises for a down broker."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            log.warning("publish to %s failed: %s", topic, paho.error_string(info.rc))

    def ack(self, message: InboundMessage) -> None:
        if message.qos > 0:
            self._client.ack(message.mid, message.qos)
            # max(): an ack for a message of a previous connection must not count twice.
            self._unacked = max(0, self._unacked - 1)
            if self._reading_paused and self._unacked <= self._read_limit // 2:
                self._resume_reading()

    def ack_now(self, message: InboundMessage) -> None:
        """Acknowledge and hand the PUBACK to the kernel at once, before the caller acts on the
        message. For messages acted on at most once (Hermes control): the PUBACK would otherwise
        wait for the end of the read burst, and a process that dies while acting on the message
        (a native crash) would get it again after every restart. Written to the socket, it reaches
        the broker even if the process dies right after."""
        self.ack(message)
        if message.qos == 0:
            return
        self._client.loop_write()
        sock = self._client.socket()
        if isinstance(sock, CoalescingSocket):
            sock.flush()

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        # Jitter keeps a shop full of gateways from reconnecting in lockstep.
        backoff = Backoff(self._settings.reconnect_min_s, self._settings.reconnect_max_s)
        try:
            while True:
                started = time.monotonic()
                try:
                    self._connect()
                except (OSError, ssl.SSLError) as exc:
                    log.warning("broker %s:%s unreachable: %s", self._settings.host, self._settings.port, exc)
                else:
                    await self._disconnected.wait()
                    if time.monotonic() - started > 10:
                        backoff.reset()  # a connection that held: start again from the shortest wait
                self._disconnected.clear()
                await asyncio.sleep(backoff.next_delay())
        finally:
            self._shutdown()

    # -- paho wiring ------------------------------------------------------------------------
    def _make_client(self, will: Will | None) -> paho.Client:
        s = self._settings
        if s.protocol == "5":
            client = PahoClient(CallbackAPIVersion.VERSION2, client_id=s.client_id, protocol=paho.MQTTv5, manual_ack=True)
        else:
            # MQTT 3.1.1 has no session expiry: clean_session=False keeps the session until we unsubscribe.
            client = PahoClient(
                CallbackAPIVersion.VERSION2, client_id=s.client_id, protocol=paho.MQTTv311, clean_session=False, manual_ack=True
            )
        # paho's own queue for our publishes while disconnected; 0 would be unbounded.
        client.max_queued_messages_set(10_000)
        client.max_inflight_messages_set(100)
        if s.username is not None:
            client.username_pw_set(s.username, s.password.get_secret_value() if s.password else None)
        refused = s.start_problems()  # the rules Settings validates (a section made in code skips that)
        if refused:
            raise MqttConfigError(refused[0][1])
        if s.tls and s.ca_file is not None:
            context = ssl.create_default_context(cafile=str(s.ca_file))
            if s.cert_file is not None:
                context.load_cert_chain(str(s.cert_file), str(s.key_file) if s.key_file else None)
            client.tls_set_context(context)
        if will is not None:
            client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        client.wrap_socket = self._wrap_socket
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        return client

    def _connect(self) -> None:
        s = self._settings
        # Blocking TCP connect on the loop: the broker is on this host or the shop LAN, so it
        # returns at once or fails fast; paho offers no non-blocking connect.
        if s.protocol == "5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = s.session_expiry_s
            props.ReceiveMaximum = s.receive_maximum
            self._client.connect(s.host, s.port, keepalive=s.keepalive_s, clean_start=False, properties=props)
        else:
            self._client.connect(s.host, s.port, keepalive=s.keepalive_s)
        drop_wakeup_pipe(self._client)

    def _wrap_socket(self, sock: socket.socket) -> CoalescingSocket:
        assert self._loop is not None
        return CoalescingSocket(sock, self._loop, on_drained=self._client.loop_write)

    def _on_socket_open(self, client: paho.Client, userdata: object, sock: SocketLike) -> None:
        assert self._loop is not None
        # Nagle on loopback turns a 1 ms p99 into 40 ms.
        raw = sock.raw if isinstance(sock, CoalescingSocket) else sock if isinstance(sock, socket.socket) else None
        if raw is not None and raw.family in (socket.AF_INET, socket.AF_INET6):
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # A new connection: the broker redelivers whatever was unacknowledged on the last one.
        self._unacked = 0
        self._reading_paused = False
        self._loop.add_reader(sock, self._read_ready, sock)
        self._misc_task = self._loop.create_task(self._misc_loop())

    def _on_socket_close(self, client: paho.Client, userdata: object, sock: SocketLike) -> None:
        assert self._loop is not None
        self._loop.remove_reader(sock)
        self._loop.remove_writer(sock)
        if self._misc_task is not None:
            self._misc_task.cancel()
            self._misc_task = None

    def _on_register_write(self, client: paho.Client, userdata: object, sock: SocketLike) -> None:
        assert self._loop is not None
        if isinstance(sock, CoalescingSocket):
            # It takes whatever paho writes (up to its cap, then calls loop_write again once drained)
            # and watches writability itself: paho only needs to run once this turn.
            self._loop.call_soon(self._client.loop_write)
        else:
            self._loop.add_writer(sock, self._client.loop_write)

    def _on_unregister_write(self, client: paho.Client, userdata: object, sock: SocketLike) -> None:
        assert self._loop is not None
        if not isinstance(sock, CoalescingSocket):
            self._loop.remove_writer(sock)

    def _read_ready(self, sock: SocketLike) -> None:
        """Read packets while they keep coming (paho parses one packet per `loop_read`).

        A call that yields no message means the socket is drained (or the packet was not a
        PUBLISH); the reader is level-triggered, so anything left wakes us again. This avoids a
        readiness syscall per packet.
        """
        client = self._client
        if client.socket() is not sock:
            return  # scheduled for a connection that has been closed since
        assert self._loop is not None
        for _ in range(_MAX_PACKETS_PER_WAKEUP):
            if self._unacked >= self._read_limit:
                self._pause_reading(sock)
                return
            before = self._messages_seen
            if client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return
            if self._messages_seen == before and not _buffered(client.socket()):
                return
        if _buffered(client.socket()):
            # The limit stopped us with bytes already read: the socket will not signal them again.
            self._loop.call_soon(self._read_ready, sock)

    def _pause_reading(self, sock: SocketLike) -> None:
        """Stop reading while too many messages wait for their commit. A broker should stop at our
        Receive Maximum by itself, but Mosquitto with `max_inflight_messages 0` sends a whole
        queued backlog at once, which would all be held in memory; unread, it stays in the socket
        and the broker (TCP flow control). Pings are not read meanwhile either: a pause longer
        than the keepalive (a store that keeps failing) ends in a reconnect and a redelivery,
        which the ingest's `delivered` table recognises."""
        assert self._loop is not None
        self._reading_paused = True
        self._loop.remove_reader(sock)

    def _resume_reading(self) -> None:
        assert self._loop is not None
        self._reading_paused = False
        sock = self._client.socket()
        if sock is None:
            return
        self._loop.add_reader(sock, self._read_ready, sock)
        # TLS may hold decrypted bytes already, which the socket does not signal: read once now.
        self._loop.call_soon(self._read_ready, sock)

    async def _misc_loop(self) -> None:
        while self._client.loop_misc() == MQTTErrorCode.MQTT_ERR_SUCCESS:
            await asyncio.sleep(1.0)

    def _on_connect(
        self, client: paho.Client, userdata: object, flags: paho.ConnectFlags, reason: ReasonCode, props: Properties | None
    ) -> None:
        if reason.is_failure:
            log.error("broker refused connection: %s", reason)
            return
        log.info("connected to broker %s:%s (session present: %s)", self._settings.host, self._settings.port, flags.session_present)
        # Subscribe again every time: cheap, and right even when the broker lost our session.
        subscriptions = self._routes.subscriptions()
        if subscriptions:
            _, self._pending_subscribe = client.subscribe([(topic, qos) for topic, qos in subscriptions.items()])
        else:
            self._subscribed()

    def _on_subscribe(
        self, client: paho.Client, userdata: object, mid: int, reasons: list[ReasonCode], props: Properties | None
    ) -> None:
        failed = [str(r) for r in reasons if r.is_failure]
        if failed:
            log.error("broker refused subscriptions: %s", failed)
        if mid == self._pending_subscribe:
            self._pending_subscribe = None
            self._subscribed()

    def _subscribed(self) -> None:
        """Connected and subscribed: from now on the broker keeps our messages even while we are away."""
        self._connected.set()
        self.on_connected()

    def _on_disconnect(
        self, client: paho.Client, userdata: object, flags: paho.DisconnectFlags, reason: ReasonCode, props: Properties | None
    ) -> None:
        if self._closing:
            log.info("disconnected from broker: %s", reason)
        else:
            log.warning("disconnected from broker: %s", reason)
        self._connected.clear()
        self._disconnected.set()

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        self._messages_seen += 1
        if msg.qos > 0:
            self._unacked += 1
        message = InboundMessage(msg.topic, msg.payload, msg.qos, msg.mid, time.time(), bool(msg.retain), bool(msg.dup))
        route = self.route_for(message.topic)
        if route is None:
            log.warning("message on %s matches no route; acknowledged and dropped", message.topic)
            self.ack(message)
            return
        try:
            route.handler(message)
        except Exception as exc:  # noqa: BLE001 - isolation boundary, see below
            # An exception escaping into paho would leave its packet parser mid-packet and break
            # the connection for every later message: one bad input must cost only itself.
            log.exception("handler for %s failed on a %d-byte message", message.topic, len(message.payload))
            if self.on_handler_error is not None:
                self.on_handler_error(message, exc)  # settles (and acknowledges) the message
            else:
                self.ack(message)
            return
        if route.auto_ack:
            self.ack(message)

    def _shutdown(self) -> None:
        self._closing = True
        if self._client.is_connected():
            # A clean DISCONNECT suppresses the last-will: say it ourselves, so whoever watches
            # the status topic (Home Assistant) sees a stopped gateway go offline too.
            if self._will is not None:
                self._client.publish(self._will.topic, self._will.payload, qos=0, retain=self._will.retain)
            self._client.disconnect()
            self._client.loop_write()
        self._connected.clear()


def _buffered(sock: object) -> bool:
    """Bytes read from the socket but not yet parsed, which the socket no longer signals as
    readable: our read buffer's, or TLS's decrypted ones."""
    if isinstance(sock, CoalescingSocket):
        return sock.buffered() > 0
    return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0


def subscription_of(pattern: str) -> str:
    """The MQTT subscription for a topic pattern with named wildcards."""
    return TopicFilter.parse(pattern).subscription
