"""systemd readiness and watchdog (`Type=notify`, `WatchdogSec=`), as a gateway part.

systemd passes `NOTIFY_SOCKET` (a datagram socket) to a `Type=notify` service and, with
`WatchdogSec=`, `WATCHDOG_USEC`. We send `READY=1` once the gateway is ready (connected and
subscribed, the gateway's `ready` event), and `WATCHDOG=1` at half the watchdog interval *from the event
loop*: a loop that hangs stops the pings, and systemd restarts the service. Outside systemd
(no `NOTIFY_SOCKET`) the part does nothing.

The protocol is one datagram of `KEY=VALUE` lines per message (sd_notify(3)); a few lines of
stdlib say it, so no extra dependency.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """What systemd told us through the environment."""

    socket_address: str
    watchdog_interval_s: float | None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> NotifyConfig | None:
        address = environ.get("NOTIFY_SOCKET")
        if not address:
            return None
        return cls(address, _watchdog_interval(environ))


def _watchdog_interval(environ: Mapping[str, str]) -> float | None:
    usec = environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    # WATCHDOG_PID names the process the watchdog is meant for; a child we start must not ping.
    pid = environ.get("WATCHDOG_PID")
    if pid and pid.strip() != str(os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r: not an integer", usec)
        return None
    return value / 1_000_000 if value > 0 else None


class Notifier:
    """Sends sd_notify datagrams. Never blocks: the socket is non-blocking and a lost ping is
    logged, not fatal (systemd restarts us if they stay lost, which is the point)."""

    def __init__(self, address: str) -> None:
        # A leading '@' means Linux's abstract socket namespace (a NUL byte on the wire).
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._socket.setblocking(False)

    def send(self, *lines: str) -> bool:
        try:
            self._socket.sendto("\n".join(lines).encode(), self._address)
        except OSError as exc:
            log.warning("sd_notify %s failed: %s", ",".join(lines), exc)
            return False
        return True

    def close(self) -> None:
        self._socket.close()


async def notify_loop(ready: asyncio.Event, site_id: str, config: NotifyConfig) -> None:
    """READY=1 when the gateway is ready; WATCHDOG=1 every half interval until cancelled.
    The root (gateway/app.py) runs it when systemd started us (`NotifyConfig.from_environment`)."""
    log.info("systemd notify socket found", extra={"fields": {"event": "systemd", "watchdog_s": config.watchdog_interval_s}})
    notifier = Notifier(config.socket_address)
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(_announce_ready(ready, site_id, notifier))
            if config.watchdog_interval_s is not None:
                group.create_task(_watchdog(notifier, config.watchdog_interval_s / 2))
    finally:
        notifier.send("STOPPING=1")
        notifier.close()


async def _announce_ready(ready: asyncio.Event, site_id: str, notifier: Notifier) -> None:
    await ready.wait()
    notifier.send("READY=1", f"STATUS=ready, site {site_id}", f"MAINPID={os.getpid()}")


async def _watchdog(notifier: Notifier, period_s: float) -> None:
    # Pings start before READY too: a start that hangs in the loop is caught by the same rule.
    while True:
        notifier.send("WATCHDOG=1")
        await asyncio.sleep(period_s)
