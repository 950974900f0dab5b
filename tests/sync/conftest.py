"""Fixtures of the sync tests: the real reference service (a child process on a free loopback
port, on its own SQLite file and again on its own PostgreSQL database), the faulty proxy in front
of it, and helpers to read both stores."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.app import Gateway
from gateway.sync.part import SyncParts
from profile_service.launch import ProfileServiceProcess, service_command
from tests.support import postgres
from tests.support.mosquitto import free_port
from tests.sync.faulty_proxy import FaultyProxy

SITE = "shop1"
SITE_TOKEN = "token-shop1"
OTHER_SITE, OTHER_TOKEN = "shop2", "token-shop2"
ADMIN_TOKEN = "token-admin"
OFFICER_TOKEN = "token-privacy-officer"
CONSENTED = "card:94D8FC5F"  # granted for service in the seed below
UNCONSENTED = "card:DEADBEEF"  # known, no consent


@dataclass
class Central:
    process: ProfileServiceProcess
    db_path: Path
    url: str
    database_url: str | None = None  # PostgreSQL's URL, or None for the SQLite file db_path

    def admin(self, method: str, path: str, body: Any = None, token: str = ADMIN_TOKEN) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """SQL that both engines read alike (`?` placeholders)."""
        if self.database_url is not None:
            return postgres.query(self.database_url, sql, params)
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def event_ids(self) -> list[str]:
        return [r[0] for r in self.query("SELECT id FROM events")]

    def stats(self) -> dict[str, int]:
        return dict(self.admin("GET", "/v1/admin/stats"))


def seed_file(tmp_path: Path) -> Path:
    path = tmp_path / "seed.json"
    path.write_text(
        json.dumps(
            {
                "customers": [
                    {
                        "customer_id": CONSENTED,
                        "profile": {"tier": "gold"},
                        "consents": [{"purpose": "service", "status": "granted", "changed_at": 1_700_000_000}],
                    },
                    {"customer_id": UNCONSENTED, "profile": {"tier": "standard"}},
                ]
            }
        )
    )
    return path


def run_central(tmp_path: Path, database_url: str | None = None) -> Iterator[Central]:
    db_path = tmp_path / "central.db"
    command = service_command(
        free_port(), db_path, {SITE: SITE_TOKEN, OTHER_SITE: OTHER_TOKEN}, seed_file(tmp_path), ADMIN_TOKEN,
        database_url=database_url,
    )
    # Secrets through the environment, never the command line (visible in ps).
    with ProfileServiceProcess(command, env={"PROFILE_SERVICE_PRIVACY_OFFICER_TOKEN": OFFICER_TOKEN}) as process:
        assert process.url is not None
        yield Central(process, db_path, process.url, database_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def central(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Central]:
    """The service on each of its storages (PostgreSQL: a fresh database of the session's cluster)."""
    database_url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    yield from run_central(tmp_path, database_url)


@pytest.fixture
async def proxy(central: Central) -> AsyncIterator[FaultyProxy]:
    host, port = central.url.removeprefix("http://").split(":")
    faulty = FaultyProxy(host, int(port))
    await faulty.start()
    yield faulty
    await faulty.stop()


def local_rows(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def sync_parts(runtime: Gateway) -> SyncParts:
    """The sync part on the Gateway (set once its task runs with a sync.url)."""
    assert runtime.service("sync").running is not None, "the sync part is not running"
    return runtime.service("sync").running


def sync_config(url: str, **overrides: Any) -> dict[str, Any]:
    """Fast settings for tests: small batches, short waits (the defaults suit a shop)."""
    values: dict[str, Any] = {
        "url": url,
        "token": SITE_TOKEN,
        "batch_max_events": 50,
        "linger_s": 0.05,
        "request_timeout_s": 2.0,
        "backoff_initial_s": 0.05,
        "backoff_max_s": 0.4,
        "retry_after_max_s": 2.0,
        "poll_interval_s": 0.2,
        "limits_interval_s": 0.2,
    }
    values.update(overrides)
    return values


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
def tls_central(tmp_path: Path) -> Iterator[tuple[ProfileServiceProcess, Path]]:
    ca, crt, key = make_ca_and_cert(tmp_path)
    command = service_command(
        free_port(), tmp_path / "central.db", {SITE: SITE_TOKEN}, extra=["--tls-cert", str(crt), "--tls-key", str(key)]
    )
    process = ProfileServiceProcess(command)
    process.start()
    yield process, ca
    process.stop()
