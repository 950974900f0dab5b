"""Starting the reference service: in this process (an async context manager) or as a child
process (for the demo and tests that want it isolated). Both announce the URL they listen on."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from profile_service.app import create_app
from profile_service.settings import ServiceSettings


def _ssl_context(settings: ServiceSettings) -> ssl.SSLContext | None:
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    return context


def service_url(settings: ServiceSettings, port: int) -> str:
    scheme = "https" if settings.tls_cert_file else "http"
    return f"{scheme}://{settings.host}:{port}"


@contextlib.asynccontextmanager
async def running_profile_service(settings: ServiceSettings) -> AsyncIterator[str]:
    """Serve until the block ends; yields the base URL (the real port when settings.port is 0)."""
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(
        runner, settings.host, settings.port, ssl_context=_ssl_context(settings), reuse_port=settings.reuse_port or None
    )
    try:
        await site.start()
        server = site._server  # noqa: SLF001 - aiohttp offers no public accessor for the bound port
        port = server.sockets[0].getsockname()[1] if server is not None else settings.port  # type: ignore[attr-defined]
        yield service_url(settings, port)
    finally:
        await runner.cleanup()


@dataclass(frozen=True)
class ServiceCommand:
    """A service process to start: its command line, and its secrets, which go in the
    environment (every user on the machine can read a process's command line with `ps`)."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


def service_command(
    port: int,
    db_path: Path,
    site_tokens: dict[str, str],
    seed_file: Path | None = None,
    admin_token: str | None = None,
    host: str = "127.0.0.1",
    extra: list[str] | None = None,
    database_url: str | None = None,
) -> ServiceCommand:
    """One service process; with `database_url` it uses PostgreSQL, not `db_path`."""
    argv = [sys.executable, "-m", "profile_service", "--host", host, "--port", str(port), "--db", str(db_path)]
    if seed_file is not None:
        argv += ["--seed", str(seed_file)]
    return ServiceCommand(argv + (extra or []), secret_environment(site_tokens, admin_token, database_url))


def secret_environment(
    site_tokens: dict[str, str], admin_token: str | None = None, database_url: str | None = None
) -> dict[str, str]:
    """The `PROFILE_SERVICE_*` variables that carry the service's secrets (profile_service/settings.py)."""
    env = {"PROFILE_SERVICE_SITE_TOKENS": json.dumps(site_tokens)}
    if admin_token is not None:
        env["PROFILE_SERVICE_ADMIN_TOKEN"] = admin_token
    if database_url is not None:
        env["PROFILE_SERVICE_DATABASE_URL"] = database_url  # it may carry the database password
    return env


class ProfileServiceProcess:
    """The service as a child process: `start()` returns once it listens; `url` is then set."""

    def __init__(self, command: ServiceCommand | list[str], env: dict[str, str] | None = None) -> None:
        secrets = command.env if isinstance(command, ServiceCommand) else {}
        self.command = command.argv if isinstance(command, ServiceCommand) else command
        self.env = {**os.environ, **secrets, **(env or {})}
        self.proc: subprocess.Popen[str] | None = None
        self.url: str | None = None
        self.lines: list[str] = []
        self._listening = threading.Event()

    def start(self, timeout: float = 20) -> str:
        self._listening.clear()
        self.proc = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env
        )
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        if not self._listening.wait(timeout) or self.url is None:
            self.stop()
            raise RuntimeError("profile service did not start:\n" + "\n".join(self.lines[-20:]))
        return self.url

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip())
            del self.lines[:-500]
            with contextlib.suppress(ValueError, AttributeError):
                message = json.loads(line)
                if message.get("event") == "listening":
                    self.url = str(message["url"])
                    self._listening.set()
        self._listening.set()  # exited: wake start() so it can report the output

    def stop(self, timeout: float = 10) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> ProfileServiceProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_profile_service(port: int, seed_file: Path, db_path: Path, site_tokens: dict[str, str]) -> ProfileServiceProcess:
    """For `touchgate demo`: the service as a child process on `port`, seeded (once) from `seed_file`."""
    process = ProfileServiceProcess(service_command(port, db_path, site_tokens, seed_file))
    process.start()
    return process
