"""A throwaway PostgreSQL cluster (Debian's binaries: initdb + pg_ctl) in a temp dir on a free
loopback port, for tests and benchmarks. PostgreSQL refuses to run as root: as root the cluster
runs as the `postgres` system user (made by Debian's package), or a dedicated system user."""

from __future__ import annotations

import asyncio
import concurrent.futures
import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.support.mosquitto import free_port

SERVICE_USER = "postgres"
FALLBACK_USER = "touchgate-pg"
# A test cluster is thrown away: durability buys nothing there. Benchmarks pass durable={}.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def find_bindir() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(re.findall(r"/(\d+)/bin", p)[0]))
    return Path(found[-1]).parent if found else None


def _run_as_user() -> str | None:
    """None when we are not root (run as ourselves); else the unprivileged user to run as."""
    if os.geteuid() != 0:
        return None
    for name in (SERVICE_USER, FALLBACK_USER):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", FALLBACK_USER], check=True)
    return FALLBACK_USER


class PostgresCluster:
    """`with PostgresCluster() as pg:` … `pg.create_database("x")` returns its postgresql:// URL."""

    def __init__(self, settings: dict[str, str] | None = None, max_connections: int = 200) -> None:
        bindir = find_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed: run `make venv` (it installs Debian's postgresql)")
        self.bindir = bindir
        self.settings = FAST_SETTINGS if settings is None else settings
        self.max_connections = max_connections
        self.user = _run_as_user()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="touchgate-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"

    def _as_user(self, *args: str) -> list[str]:
        return ["runuser", "-u", self.user, "--", *args] if self.user else list(args)

    def start(self) -> PostgresCluster:
        if self.user:
            shutil.chown(self.root, self.user)
            self.root.chmod(0o700)
        subprocess.run(
            self._as_user(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                          "-E", "UTF8", "--no-sync", "--no-instructions"),
            check=True, capture_output=True,
        )
        options = [f"-p {self.port}", "-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={self.root}",
                   f"-c max_connections={self.max_connections}"]
        options += [f"-c {name}={value}" for name, value in self.settings.items()]
        result = subprocess.run(
            self._as_user(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                          "-o", " ".join(options), "start"),
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr}\n{log[-2000:]}")
        return self

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(self._as_user(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"),
                           capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def server_pid(self) -> int:
        """The postmaster's pid (its backends are its children)."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [str(self.bindir / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", self.url(database), "-c", sql],
            check=True, capture_output=True, text=True,
        )
        return result.stdout

    def create_database(self, name: str) -> str:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"not a plain database name: {name!r}")
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def query(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one query (SQLite-style `?` placeholders) from synchronous test code: asyncpg on a
    loop of its own, in another thread (the test's own loop may be running)."""
    import asyncpg

    parts = sql.split("?")
    numbered = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))

    async def run() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(url)
        try:
            return [tuple(r) for r in await conn.fetch(numbered, *params)]
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()
