"""sd_notify: READY=1 once the gateway is ready, WATCHDOG=1 from the event loop (gateway/systemd.py)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from gateway.systemd import NotifyConfig
from tests.deploy.notify_listener import run_until_ready
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto


@pytest.fixture
def notify_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    # A short folder: AF_UNIX paths are limited to 108 bytes, pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory() as scratch:
        address = str(Path(scratch) / "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(address)
            sock.setblocking(False)
            monkeypatch.setenv("NOTIFY_SOCKET", address)
            monkeypatch.setenv("WATCHDOG_USEC", "200000")
            monkeypatch.delenv("WATCHDOG_PID", raising=False)
            yield sock


def drain(sock: socket.socket, into: list[tuple[float, str]]) -> None:
    while True:
        try:
            into.append((time.monotonic(), sock.recv(4096).decode()))
        except BlockingIOError:
            return


def lines(messages: list[tuple[float, str]], line: str) -> list[float]:
    return [at for at, message in messages if line in message.split("\n")]


async def test_ready_after_subscribed_and_watchdog_from_the_loop(broker: Mosquitto, tmp_path: Path, notify_socket: socket.socket) -> None:
    received: list[tuple[float, str]] = []
    async with running_gateway(gateway_settings(broker, tmp_path)) as runtime:
        assert runtime.ready.is_set()
        await wait_until(lambda: (drain(notify_socket, received), lines(received, "READY=1"))[1], timeout=5)
        ready_at = lines(received, "READY=1")[0]
        # Half of WATCHDOG_USEC (0.2 s) apart: several pings within a second.
        await asyncio.sleep(0.6)
        drain(notify_socket, received)
        assert len([at for at in lines(received, "WATCHDOG=1") if at > ready_at]) >= 3

        # A blocked event loop stops the pings: that is what lets systemd restart a hung gateway.
        drain(notify_socket, received)
        before = len(lines(received, "WATCHDOG=1"))
        time.sleep(0.5)
        drain(notify_socket, received)
        assert len(lines(received, "WATCHDOG=1")) - before <= 1
    drain(notify_socket, received)
    assert lines(received, "STOPPING=1")
    ready_message = next(message for _, message in received if "READY=1" in message)
    assert "STATUS=ready, site shop1" in ready_message


async def test_not_ready_while_the_broker_is_down(tmp_path: Path, notify_socket: socket.socket) -> None:
    """READY=1 means "subscribed": with no broker there is no READY, so systemd's start timeout
    (and upgrade.sh's rollback) sees a gateway that cannot work."""
    broker = Mosquitto(tmp_path / "broker")  # configured, never started
    settings = gateway_settings(broker, tmp_path)
    with pytest.raises(TimeoutError):
        async with running_gateway(settings, timeout=1.0):
            pass
    received: list[tuple[float, str]] = []
    drain(notify_socket, received)
    assert lines(received, "WATCHDOG=1")
    assert not lines(received, "READY=1")


def test_environment_rules() -> None:
    assert NotifyConfig.from_environment({}) is None
    config = NotifyConfig.from_environment({"NOTIFY_SOCKET": "@abstract", "WATCHDOG_USEC": "30000000"})
    assert config is not None and config.watchdog_interval_s == 30.0
    # The watchdog belongs to another process (WATCHDOG_PID): we must not ping for it.
    other = NotifyConfig.from_environment({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": str(os.getpid() + 1)})
    assert other is not None and other.watchdog_interval_s is None
    garbled = NotifyConfig.from_environment({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "soon"})
    assert garbled is not None and garbled.watchdog_interval_s is None


def test_touchgate_run_notifies_like_under_systemd(broker: Mosquitto, tmp_path: Path) -> None:
    """The real `touchgate run` process, started the way systemd starts it."""
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "site_id": "shop1",
                "mqtt": {"host": broker.host, "port": broker.port, "client_id": "touchgate-notify"},
                "store": {"path": str(tmp_path / "touchgate.db")},
            }
        )
    )
    touchgate = Path(sys.executable).parent / "touchgate"
    notes, code = run_until_ready([str(touchgate), "run", "--config", str(config)], timeout=60, watch_after_ready=0.5, watchdog_usec=200_000)
    assert notes.ready, notes.messages
    assert len(notes.times_of("WATCHDOG=1")) >= 2
    assert notes.times_of("STOPPING=1")
    assert code is None  # still running when stopped; SIGTERM then ends it cleanly
