"""A real gateway (real Mosquitto, real SQLite file) with its admin API on a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from gateway.app import Gateway
from gateway.config.settings import PROJECT_ROOT, Settings
from tests.support.clients import Publisher
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto, free_port

TOKEN = "test-token-5f1c2a9e8b7d4c3a"
SAMPLES_DIR = PROJECT_ROOT / "device_profiles" / "samples"


@dataclass
class ApiHarness:
    runtime: Gateway
    broker: Mosquitto
    url: str
    http: aiohttp.ClientSession  # sends the bearer token
    anon: aiohttp.ClientSession  # no token (keeps cookies: the status page login)

    async def get_json(self, path: str, status: int = 200, **kw: Any) -> Any:
        async with self.http.get(self.url + path, **kw) as response:
            body = await response.json()
            assert response.status == status, (path, response.status, body)
            return body

    async def publish(self, messages: Sequence[tuple[str, str | bytes]]) -> None:
        """Publish (QoS 1, PUBACKed) and wait until ingest has taken every one."""
        counters = self.runtime.ingest.counters
        before = counters.stored + counters.dead_letters
        with Publisher(self.broker.host, self.broker.port, client_id=f"pub-{free_port()}") as pub:
            await asyncio.to_thread(pub.publish_all, messages)
        await wait_until(lambda: counters.stored + counters.dead_letters >= before + len(messages))

    def db_scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        import sqlite3

        conn = sqlite3.connect(self.runtime.settings.store.path)
        try:
            return conn.execute(sql, params).fetchone()[0]
        finally:
            conn.close()


def sample_messages() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for path in sorted(SAMPLES_DIR.glob("*.yaml")):
        for sample in yaml.safe_load(path.read_text()):
            out.append((sample["topic"], sample["payload"]))
    return out


def api_settings(broker: Mosquitto, tmp_path: Path, sections: dict[str, Any] | None = None, **api: Any) -> Settings:
    """Settings with the API on a free port; `sections` overrides other settings sections."""
    values: dict[str, Any] = {"enabled": True, "port": free_port(), "token": TOKEN, "status_refresh_s": 1.0}
    values.update(api)
    return gateway_settings(broker, tmp_path, api=values, **(sections or {}))


@pytest.fixture
async def api(broker: Mosquitto, tmp_path: Path) -> AsyncIterator[ApiHarness]:
    async with started_api(broker, tmp_path) as harness:
        yield harness


@contextlib.asynccontextmanager
async def started_api(
    broker: Mosquitto, tmp_path: Path, sections: dict[str, Any] | None = None, **api: Any
) -> AsyncIterator[ApiHarness]:
    settings = api_settings(broker, tmp_path, sections, **api)
    url = f"http://127.0.0.1:{settings.api.port}"
    async with (
        running_gateway(settings) as runtime,
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
        # unsafe=True: keep cookies from an IP-address host (the status page login on 127.0.0.1).
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as anon,
    ):
        await _wait_http(anon, url + "/healthz")
        yield ApiHarness(runtime, broker, url, http, anon)


async def _wait_http(session: aiohttp.ClientSession, url: str, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            async with session.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{url} did not come up")
        await asyncio.sleep(0.02)
