"""HTTPS to the central service: verified against a custom CA; an untrusted certificate stops
sync (events stay queued) and never leads to plain http; plain http off this host is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.config.settings import Settings
from profile_service.launch import ProfileServiceProcess
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto
from tests.sync.conftest import sync_config
from tests.sync.shop import outbox_count, publish, shop_traffic


async def test_https_with_custom_ca(broker: Mosquitto, tls_central: tuple[ProfileServiceProcess, Path], tmp_path: Path) -> None:
    service, ca = tls_central
    assert service.url is not None and service.url.startswith("https://")
    settings = gateway_settings(broker, tmp_path, sync=sync_config(service.url, ca_file=ca))
    async with running_gateway(settings) as runtime:
        await asyncio.to_thread(publish, broker.host, broker.port, shop_traffic(30, 0, 0))
        await wait_until(lambda: runtime.ingest.counters.stored >= 30)
        await wait_until(lambda: outbox_count(settings.store.path) == 0)
        assert runtime.service("sync").running is not None and runtime.service("sync").running.sender.status.batches >= 1


async def test_untrusted_certificate_keeps_events_queued(
    broker: Mosquitto, tls_central: tuple[ProfileServiceProcess, Path], tmp_path: Path
) -> None:
    service, _ = tls_central
    assert service.url is not None
    settings = gateway_settings(broker, tmp_path, sync=sync_config(service.url))  # system CAs only
    async with running_gateway(settings) as runtime:
        await asyncio.to_thread(publish, broker.host, broker.port, shop_traffic(10, 0, 0))
        await wait_until(lambda: runtime.ingest.counters.stored >= 10)
        await wait_until(lambda: runtime.service("sync").running is not None)
        assert runtime.service("sync").running is not None
        sender = runtime.service("sync").running.sender
        await wait_until(lambda: "certificate" in sender.status.last_error.lower(), timeout=10)
        await asyncio.sleep(0.5)
        assert outbox_count(settings.store.path) == 10
        assert sender.status.batches == 0


def test_plain_http_only_to_loopback() -> None:
    with pytest.raises(ValidationError, match="plain http"):
        Settings(sync={"url": "http://central.example.com", "token": "t"})
    assert Settings(sync={"url": "https://central.example.com", "token": "t"}).sync.url is not None
    assert Settings(sync={"url": "http://127.0.0.1:8780", "token": "t"}).sync.url is not None
    with pytest.raises(ValidationError, match="token"):
        Settings(sync={"url": "https://central.example.com"})
