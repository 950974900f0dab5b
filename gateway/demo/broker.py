"""Finding or starting an MQTT broker for the demo.

In order: the configured broker if one answers; a private Mosquitto if it is installed; else an
embedded amqtt broker in this process (MQTT 3.1.1 only, so the gateway is switched to 3.1.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class BrokerInfo:
    host: str
    port: int
    protocol: Literal["5", "3.1.1"]
    kind: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _mosquitto_binary() -> str | None:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


BrokerChoice = Literal["auto", "mosquitto", "embedded"]


@contextlib.asynccontextmanager
async def demo_broker(host: str, port: int, choice: BrokerChoice = "auto") -> AsyncIterator[BrokerInfo]:
    if choice == "auto" and _answers(host, port):
        yield BrokerInfo(host, port, "5", f"existing broker at {host}:{port}")
        return
    binary = _mosquitto_binary() if choice != "embedded" else None
    if choice == "mosquitto" and binary is None:
        raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
    if binary is not None:
        async with _private_mosquitto(binary) as info:
            yield info
        return
    async with _embedded_amqtt() as info:
        yield info


@contextlib.asynccontextmanager
async def _private_mosquitto(binary: str) -> AsyncIterator[BrokerInfo]:
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="touchgate-demo-broker-") as tmp:
        conf = Path(tmp) / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n"
            "set_tcp_nodelay true\nlog_dest none\n"
        )
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                if _answers("127.0.0.1", port):
                    break
                await asyncio.sleep(0.025)
            yield BrokerInfo("127.0.0.1", port, "5", f"private Mosquitto on 127.0.0.1:{port}")
        finally:
            proc.terminate()
            proc.wait(10)


@contextlib.asynccontextmanager
async def _embedded_amqtt() -> AsyncIterator[BrokerInfo]:
    try:
        from amqtt.broker import Broker
    except ImportError as exc:
        raise RuntimeError("no MQTT broker: install mosquitto, or the demo extra (amqtt)") from exc
    port = _free_port()
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
    )
    await broker.start()
    try:
        yield BrokerInfo("127.0.0.1", port, "3.1.1", f"embedded amqtt broker on 127.0.0.1:{port}")
    finally:
        await broker.shutdown()
