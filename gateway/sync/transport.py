"""HTTP to the central service (aiohttp): one session, bearer token, gzip, verified TLS.

There is exactly one URL and it is used as configured: an https URL is never retried over plain
http, and certificates are always verified (against `ca_file` when given, else the system's CAs).
Network failures come back as `HttpOutcome` with status 0, so callers treat them like a 5xx.
"""

from __future__ import annotations

import asyncio
import gzip
import ssl
import time
from typing import Any

import aiohttp

from gateway.sync.backoff import parse_retry_after
from gateway.sync.outcome import HttpOutcome
from gateway.sync.settings import SyncSettings

USER_AGENT = "touchgate-sync/1"


def ssl_context(settings: SyncSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


class Transport:
    """Use as `async with Transport(settings) as t:`; one connection pool for all of sync."""

    def __init__(self, settings: SyncSettings) -> None:
        if settings.url is None or settings.token is None:
            raise ValueError("sync.url and sync.token are required to talk to the central service")
        self._settings = settings
        self._base = str(settings.url).rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Transport:
        tls = ssl_context(self._settings) if self._base.startswith("https://") else False
        connector = aiohttp.TCPConnector(ssl=tls, limit=4, enable_cleanup_closed=True)
        assert self._settings.token is not None
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self._settings.request_timeout_s),
            headers={"Authorization": f"Bearer {self._settings.token.get_secret_value()}", "User-Agent": USER_AGENT},
            auto_decompress=True,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post_json(self, path: str, body: bytes) -> HttpOutcome:
        headers = {"Content-Type": "application/json"}
        level = self._settings.gzip_level
        if level > 0:
            # Compressing 1 MB at level 1 takes a few ms: off the loop, so MQTT ingest keeps flowing.
            body = await asyncio.to_thread(gzip.compress, body, level)
            headers["Content-Encoding"] = "gzip"
        return await self._request("POST", path, data=body, headers=headers)

    async def get_json(self, path: str, params: dict[str, str]) -> HttpOutcome:
        return await self._request("GET", path, params=params)

    async def _request(self, method: str, path: str, **kwargs: Any) -> HttpOutcome:
        if self._session is None:
            raise RuntimeError("transport is not open")
        try:
            async with self._session.request(method, self._base + path, allow_redirects=False, **kwargs) as response:
                body = await response.read()
                retry_after = parse_retry_after(response.headers.get("Retry-After"), time.time())
                return HttpOutcome(response.status, body, retry_after)
        except aiohttp.ClientConnectorCertificateError as exc:
            return HttpOutcome(0, b"", error=f"TLS certificate not trusted: {exc.certificate_error}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return HttpOutcome(0, b"", error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
