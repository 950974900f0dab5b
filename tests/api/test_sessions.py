"""The status page's sessions and the login throttle, played by an attacker against the real
aiohttp server: forged, expired and logged-out cookies are refused, guessing is throttled (per
address and overall, 429 + Retry-After) and audited. Other loopback addresses (127.0.0.x) play
other clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from yarl import URL

from gateway.api.auth import SESSION_COOKIE
from gateway.api.sessions import SessionTable
from gateway.api.throttle import LoginThrottle
from tests.api.conftest import TOKEN, ApiHarness, started_api
from tests.support.mosquitto import Mosquitto


@contextlib.asynccontextmanager
async def client_at(address: str, cookies: dict[str, str] | None = None) -> AsyncIterator[aiohttp.ClientSession]:
    """A browser or script at another loopback address (its own throttle count)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True), cookies=cookies) as session:
        yield session


async def log_in(session: aiohttp.ClientSession, url: str) -> str:
    """Logs in through the form; returns the session cookie's value."""
    async with session.post(url + "/login", data={"token": TOKEN}, allow_redirects=False) as response:
        assert response.status == 303, await response.text()
    cookie = session.cookie_jar.filter_cookies(URL(url)).get(SESSION_COOKIE)
    assert cookie is not None and cookie.value
    return cookie.value


async def status_with_cookie(url: str, value: str) -> int:
    async with client_at("127.0.0.1", {SESSION_COOKIE: value}) as thief:
        async with thief.get(url + "/api/status") as response:
            return response.status


def audit_kinds(api: ApiHarness) -> list[str]:
    import sqlite3

    conn = sqlite3.connect(api.runtime.settings.store.path)
    try:
        return [row[0] for row in conn.execute("SELECT kind FROM audit WHERE kind LIKE 'admin_%' ORDER BY seq")]
    finally:
        conn.close()


async def test_forged_and_logged_out_cookies_are_refused(api: ApiHarness) -> None:
    # Forged: a random value, and what the old fixed-HMAC cookie looked like.
    assert await status_with_cookie(api.url, "A" * 43) == 401
    assert await status_with_cookie(api.url, "0" * 64) == 401
    value = await log_in(api.anon, api.url)
    assert await status_with_cookie(api.url, value) == 200  # a copy works while the session lives
    async with api.anon.post(api.url + "/logout", allow_redirects=False) as response:
        assert response.status == 303
    # The copy kept by someone else is worthless after logout: the server ended the session.
    assert await status_with_cookie(api.url, value) == 401
    async with client_at("127.0.0.1", {SESSION_COOKIE: value}) as thief:
        async with thief.get(api.url + "/") as response:
            assert 'action="/login"' in await response.text()
    # A new login gets a new value; the cookie never carries the token or a function of it alone.
    assert await log_in(api.anon, api.url) != value
    assert audit_kinds(api) == ["admin_login", "admin_logout", "admin_login"]


async def test_an_idle_session_expires(broker: Mosquitto, tmp_path: Path) -> None:
    async with started_api(broker, tmp_path, session_idle_s=2.0) as api:
        value = await log_in(api.anon, api.url)
        assert await status_with_cookie(api.url, value) == 200
        await asyncio.sleep(2.5)  # left alone longer than api.session_idle_s
        assert await status_with_cookie(api.url, value) == 401
        assert await status_with_cookie(api.url, value) == 401  # ended for good, not renewed by asking


async def test_cookie_attributes_and_secure_behind_tls(broker: Mosquitto, tmp_path: Path) -> None:
    async with started_api(broker, tmp_path) as api:
        async with api.anon.post(api.url + "/login", data={"token": TOKEN}, allow_redirects=False) as response:
            plain = response.headers["Set-Cookie"]
    async with started_api(broker, tmp_path, behind_tls=True) as api:
        async with api.anon.post(api.url + "/login", data={"token": TOKEN}, allow_redirects=False) as response:
            behind_tls = response.headers["Set-Cookie"]
    for header in (plain, behind_tls):
        assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/" in header and TOKEN not in header
    assert "Secure" not in plain and "Secure" in behind_tls


async def test_guessing_from_one_address_is_throttled_and_audited(broker: Mosquitto, tmp_path: Path) -> None:
    async with started_api(broker, tmp_path, login_failures_per_client=3, login_failures_global=100) as api:
        async with client_at("127.0.0.2") as attacker:
            for guess in range(3):
                headers = {"Authorization": f"Bearer wrong-guess-{guess:04d}-xxxxxxxx"}
                async with attacker.get(api.url + "/api/status", headers=headers) as response:
                    assert response.status == 401
            # Locked: even the right token is not compared, so a lucky guess would not tell.
            async with attacker.get(api.url + "/api/status", headers={"Authorization": f"Bearer {TOKEN}"}) as response:
                assert response.status == 429
                retry_after = int(response.headers["Retry-After"])
                body = await response.json()
            assert 1 <= retry_after <= 60 and body["error"] == "too_many_requests" and "client" in body["detail"]
            # The login form and the one-time link are the same door.
            async with attacker.post(api.url + "/login", data={"token": TOKEN}, allow_redirects=False) as response:
                assert response.status == 429 and "Retry-After" in response.headers
                assert "Too many wrong tokens" in await response.text()
                assert SESSION_COOKIE not in response.cookies
            async with attacker.get(api.url + "/login", params={"code": "x"}, allow_redirects=False) as response:
                assert response.status == 429
        # The operator at another address is not locked out by one attacker.
        assert (await api.get_json("/api/status"))["site"] == "shop1"
        kinds = audit_kinds(api)
        assert kinds.count("admin_auth_refused") == 3 and kinds.count("admin_auth_throttled") == 1
        detail = json.loads(api.db_scalar("SELECT detail FROM audit WHERE kind = 'admin_auth_throttled'"))
        assert detail["client"] == "127.0.0.2" and detail["scope"] == "client"
        assert TOKEN not in api.db_scalar("SELECT group_concat(detail) FROM audit")


async def test_guessing_from_many_addresses_meets_the_global_limit(broker: Mosquitto, tmp_path: Path) -> None:
    async with started_api(broker, tmp_path, login_failures_per_client=50, login_failures_global=4) as api:
        for n in range(2, 6):  # four addresses, one guess each: none reaches its own limit
            async with client_at(f"127.0.0.{n}") as attacker:
                async with attacker.post(api.url + "/login", data={"token": f"guess-{n}"}, allow_redirects=False) as response:
                    assert response.status == 401
        async with client_at("127.0.0.9") as fresh:
            async with fresh.get(api.url + "/api/status", headers={"Authorization": f"Bearer {TOKEN}"}) as response:
                assert response.status == 429
                assert "global" in (await response.json())["detail"]
        assert audit_kinds(api).count("admin_auth_refused") == 4


def test_session_table_ends_sessions_at_idle_max_age_logout_and_capacity() -> None:
    now = [1000.0]
    table = SessionTable(idle_s=10, max_age_s=30, max_sessions=2, clock=lambda: now[0])
    a = table.start()
    for _ in range(4):  # used every 9 s: never idle, but past its maximum age
        now[0] += 9
        assert table.is_live(a) == (now[0] - 1000 <= 30)
    b, c = table.start(), table.start()
    d = table.start()  # capacity 2: the least recently used (b) made room
    assert not table.is_live(b) and table.is_live(c) and table.is_live(d)
    assert table.end(c) and not table.is_live(c) and not table.end(c)
    now[0] += 11
    assert not table.is_live(d)  # idle
    assert not table.is_live("") and not table.is_live("x" * 1000)


def test_throttle_lifts_when_the_window_passes_and_counts_globally() -> None:
    now = [0.0]
    throttle = LoginThrottle(per_client=2, global_limit=3, window_s=60, clock=lambda: now[0])
    assert throttle.failed("a") is None
    now[0] = 10
    locked = throttle.failed("a")
    assert locked is not None and locked.scope == "client" and locked.retry_after_s == 50
    assert throttle.check("b") is None
    locked_all = throttle.failed("b")
    assert locked_all is not None and locked_all.scope == "global" and throttle.check("c") is not None
    now[0] = 60  # the first failure left the window: the global count is 2 again, a's is 1
    assert throttle.check("c") is None and throttle.check("a") is None
