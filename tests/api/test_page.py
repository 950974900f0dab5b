"""The status page over plain HTTP: login form, cookie, logout, escaping, the security headers.
(The real-browser test is test_browser.py.)"""

from __future__ import annotations

import re

from yarl import URL

from tests.api.conftest import TOKEN, ApiHarness

HOSTILE_DEVICE = "<img src=x onerror=alert(1)>"


async def test_login_form_then_page_then_logout(api: ApiHarness) -> None:
    async with api.anon.get(api.url + "/") as response:
        assert response.status == 200
        html = await response.text()
    assert '<form class="login" method="post" action="/login">' in html
    assert 'id="outbox-depth"' not in html, "numbers shown before login"
    csp = response.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce and f'nonce="{nonce.group(1)}"' in html and "default-src 'none'" in csp

    async with api.anon.post(api.url + "/login", data={"token": "not-the-token-at-all"}, allow_redirects=False) as response:
        assert response.status == 401
        assert "That token is not right." in await response.text()
    assert not api.anon.cookie_jar.filter_cookies(URL(api.url))

    async with api.anon.post(api.url + "/login", data={"token": TOKEN}, allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"] == "/"
        set_cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie and TOKEN not in set_cookie

    async with api.anon.get(api.url + "/") as response:
        html = await response.text()
    assert 'id="outbox-depth"' in html and 'id="logout"' in html

    async with api.anon.post(api.url + "/logout", allow_redirects=False) as response:
        assert response.status == 303
    async with api.anon.get(api.url + "/") as response:
        assert 'action="/login"' in await response.text()
    async with api.anon.get(api.url + "/api/status") as response:
        assert response.status == 401


async def test_bearer_token_also_opens_the_page_and_data_is_escaped(api: ApiHarness) -> None:
    await api.publish([(f"zigbee2mqtt/shop1/{HOSTILE_DEVICE}", "{broken")])
    async with api.http.get(api.url + "/") as response:
        assert response.status == 200
        html = await response.text()
    assert HOSTILE_DEVICE not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert re.search(r'id="dead-letters-total">1<', html)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
