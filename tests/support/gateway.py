"""Running the real gateway in-process against a test broker and a tmp SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from gateway.app import Gateway, build_gateway, serve
from gateway.config.settings import Settings
from gateway.waiting import within
from tests.support.mosquitto import Mosquitto


def gateway_settings(broker: Mosquitto, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "site_id": "shop1",
        "mqtt": {"host": broker.host, "port": broker.port, "client_id": f"touchgate-{broker.port}"},
        "store": {"path": tmp_path / "touchgate.db"},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    return Settings(**values)


@contextlib.asynccontextmanager
async def running_gateway(settings: Settings, timeout: float = 10) -> AsyncIterator[Gateway]:
    runtime = await build_gateway(settings)
    task = asyncio.create_task(serve(runtime))
    try:
        await within(runtime.ready.wait(), timeout)
        yield runtime
    finally:
        task.cancel()
        # A gateway that does not stop is a bug: fail with the pending tasks' stacks instead of
        # hanging the whole suite (it happened when asyncio.wait_for lost a cancellation: gateway/waiting.py).
        done, _ = await asyncio.wait({task}, timeout=30)
        if not done:
            stacks = "\n".join(f"{t.get_name()}: {t.get_stack(limit=5)}" for t in asyncio.all_tasks())
            raise AssertionError(f"the gateway did not stop within 30 s after cancel:\n{stacks}")
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.02) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)
