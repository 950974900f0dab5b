"""Authentication for the admin API and the status page's login sessions.

Every route but /healthz (and the ways in and out of the page) needs `Authorization: Bearer
<token>`. The status page logs in once with the token and gets a cookie naming a server-side
session (gateway/api/sessions.py): it expires when idle and at a maximum age, and logout ends it
on the server, so a copied cookie stops working. The cookie is honoured for GET only, so a foreign
page cannot make a logged-in browser erase anyone (no CSRF through DELETE/POST); it is HttpOnly,
SameSite=Strict, and Secure when the API is served over TLS (`api.behind_tls`, or a TLS request).

Every presented token is throttled (gateway/api/throttle.py): past the limits the answer is 429
with Retry-After, and no token is compared. Refused logins, the start of a lock, logins and
logouts go to the hash-chained audit log (through `audit`, when the consent part offers it) and
to the log.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.typedefs import Middleware

from aiohttp import web

from gateway.api.sessions import SessionTable
from gateway.api.settings import ApiSettings
from gateway.api.throttle import LoginThrottle, Throttled

log = logging.getLogger(__name__)

SESSION_COOKIE = "touchgate_session"
# Reachable without a token: liveness, and the way in and out of the status page.
OPEN_PATHS = frozenset({"/healthz", "/login", "/logout", "/"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# (kind, detail) -> written to the audit log; kinds start with "admin_".
Audit = Callable[[str, dict[str, Any]], Awaitable[None]]


async def _log_only(kind: str, detail: dict[str, Any]) -> None:
    return None


class TooManyAttempts(Exception):
    def __init__(self, throttled: Throttled) -> None:
        super().__init__(f"too many failed attempts ({throttled.scope}); try again in {throttled.retry_after_s} s")
        self.throttled = throttled

    def http(self) -> web.HTTPTooManyRequests:
        return web.HTTPTooManyRequests(headers={"Retry-After": str(self.throttled.retry_after_s)}, text=str(self))


class Authenticator:
    """`token=None` means authentication is off (only with `api.insecure_no_auth`)."""

    def __init__(
        self,
        token: str | None,
        login_code: str | None = None,
        *,
        sessions: SessionTable | None = None,
        throttle: LoginThrottle | None = None,
        audit: Audit = _log_only,
        secure_cookies: bool = False,
    ) -> None:
        defaults = ApiSettings()
        self._token = token.encode() if token is not None else None
        self._login_code = login_code.encode() if login_code and token is not None else None
        self.sessions = (
            sessions if sessions is not None else SessionTable(defaults.session_idle_s, defaults.session_max_s, defaults.max_sessions)
        )
        self.throttle = (
            throttle
            if throttle is not None
            else LoginThrottle(defaults.login_failures_per_client, defaults.login_failures_global, defaults.login_window_s)
        )
        self._audit = audit
        self._secure_cookies = secure_cookies

    @classmethod
    def from_settings(cls, settings: ApiSettings, audit: Audit = _log_only) -> Authenticator:
        return cls(
            settings.token.get_secret_value() if settings.token else None,
            settings.login_code.get_secret_value() if settings.login_code else None,
            sessions=SessionTable(settings.session_idle_s, settings.session_max_s, settings.max_sessions),
            throttle=LoginThrottle(settings.login_failures_per_client, settings.login_failures_global, settings.login_window_s),
            audit=audit,
            secure_cookies=settings.behind_tls,
        )

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def consume_login_code(self, candidate: str) -> bool:
        """The one-time login link: the code works once, then never again (until a restart
        with a new code in the settings)."""
        code = self._login_code
        if code is None or not hmac.compare_digest(candidate.encode("utf-8", "surrogatepass"), code):
            return False
        self._login_code = None
        return True

    def token_matches(self, candidate: str) -> bool:
        if self._token is None:
            return True
        return hmac.compare_digest(candidate.encode("utf-8", "surrogatepass"), self._token)

    async def attempt(self, request: web.Request, how: str, check: Callable[[], bool]) -> bool:
        """One throttled attempt to present a secret: raises TooManyAttempts while locked; a
        failure is counted, logged and audited (and so is the lock it may start)."""
        client = client_of(request)
        locked = self.throttle.check(client)
        if locked is not None:
            raise TooManyAttempts(locked)
        if check():
            self.throttle.succeeded(client)
            return True
        started = self.throttle.failed(client)
        await self.record("admin_auth_refused", client=client, how=how, route=_route_of(request))
        if started is not None:
            await self.record("admin_auth_throttled", client=client, scope=started.scope, retry_after_s=started.retry_after_s)
        return False

    async def is_authenticated(self, request: web.Request) -> bool:
        if self._token is None:
            return True
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer" and credentials:
            return await self.attempt(request, "bearer", lambda: self.token_matches(credentials.strip()))
        if request.method in ("GET", "HEAD"):
            return self.sessions.is_live(request.cookies.get(SESSION_COOKIE, ""))
        return False

    async def log_in(self, request: web.Request, response: web.StreamResponse, how: str) -> None:
        """A new server-side session for this browser (after the token or the one-time code)."""
        if self._token is None:
            return
        await self.record("admin_login", client=client_of(request), how=how)
        response.set_cookie(
            SESSION_COOKIE,
            self.sessions.start(),
            httponly=True,
            samesite="Strict",
            path="/",
            secure=self._secure_cookies or request.secure,
        )

    async def log_out(self, request: web.Request, response: web.StreamResponse) -> None:
        """Ends the session on the server (the cookie is worthless from now on), then clears it."""
        if self.sessions.end(request.cookies.get(SESSION_COOKIE, "")):
            await self.record("admin_logout", client=client_of(request))
        response.del_cookie(SESSION_COOKIE, path="/")

    async def record(self, kind: str, **detail: Any) -> None:
        log.info(kind.replace("_", " "), extra={"fields": {"event": kind, **detail}})
        await self._audit(kind, detail)

    def middleware(self) -> Middleware:
        @web.middleware
        async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path in OPEN_PATHS:
                return await handler(request)
            try:
                allowed = await self.is_authenticated(request)
            except TooManyAttempts as exc:
                raise exc.http() from exc
            if not allowed:
                raise web.HTTPUnauthorized(
                    headers={"WWW-Authenticate": 'Bearer realm="touchgate"'},
                    text="a bearer token is required (Authorization: Bearer <api.token>)",
                )
            return await handler(request)

        return authenticate


def client_of(request: web.Request) -> str:
    """The peer address (behind a proxy: the proxy's; forwarded headers are not trusted)."""
    return request.remote or "unknown"


def _route_of(request: web.Request) -> str:
    """The route template, not the raw path: paths can carry customer ids."""
    info = request.match_info.route.resource
    return info.canonical if info is not None else "<unmatched>"
