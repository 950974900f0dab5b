"""HTTPS to the central service: verified against a custom CA; an untrusted certificate stops
sync (events stay queued) and never leads to plain http; plain http off this host is refused."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.config.settings import Settings
from profile_service.launch import ProfileServiceProcess, service_command
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto, free_port
from tests.sync.conftest import SITE, SITE_TOKEN, sync_config
from tests.sync.shop import outbox_count, publish, shop_traffic


def make_ca_and_cert(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 it signed (openssl CLI)."""
    ca_key, ca_crt = folder / "ca.key", folder / "ca.crt"
    key, csr, crt, ext = folder / "server.key", folder / "server.csr", folder / "server.crt", folder / "san.ext"

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca_crt),
        "-days", "2", "-subj", "/CN=Touchgate Test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(crt), "-days", "2", "-extfile", str(ext))
    return ca_crt, crt, key


@pytest.fixture
def tls_central(tmp_path: Path) -> tuple[ProfileServiceProcess, Path]:
    ca, crt, key = make_ca_and_cert(tmp_path)
    command = service_command(
        free_port(), tmp_path / "central.db", {SITE: SITE_TOKEN}, extra=["--tls-cert", str(crt), "--tls-key", str(key)]
    )
    process = ProfileServiceProcess(command)
    process.start()
    yield process, ca  # type: ignore[misc]
    process.stop()


async def test_https_with_custom_ca(broker: Mosquitto, tls_central: tuple[ProfileServiceProcess, Path], tmp_path: Path) -> None:
    service, ca = tls_central
    assert service.url is not None and service.url.startswith("https://")
    settings = gateway_settings(broker, tmp_path, sync=sync_config(service.url, ca_file=ca))
    async with running_gateway(settings) as runtime:
        await asyncio.to_thread(publish, broker.host, broker.port, shop_traffic(30, 0, 0))
        await wait_until(lambda: runtime.ingest.counters.stored >= 30)
        await wait_until(lambda: outbox_count(settings.store.path) == 0)
        assert runtime.sync.sender.status.batches >= 1  # type: ignore[attr-defined]


async def test_untrusted_certificate_keeps_events_queued(
    broker: Mosquitto, tls_central: tuple[ProfileServiceProcess, Path], tmp_path: Path
) -> None:
    service, _ = tls_central
    assert service.url is not None
    settings = gateway_settings(broker, tmp_path, sync=sync_config(service.url))  # system CAs only
    async with running_gateway(settings) as runtime:
        await asyncio.to_thread(publish, broker.host, broker.port, shop_traffic(10, 0, 0))
        await wait_until(lambda: runtime.ingest.counters.stored >= 10)
        sender = runtime.sync.sender  # type: ignore[attr-defined]
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
