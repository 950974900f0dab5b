"""Bearer-token authentication for the admin API, and the status page's login cookie.

Every route but /healthz (and the login form itself) needs `Authorization: Bearer <token>`. The
status page logs in once with the token and gets a cookie holding an HMAC of the token (never the
token itself); the cookie is honoured for GET only, so a foreign page cannot make a logged-in
browser erase anyone (no CSRF through DELETE/POST), and it is SameSite=Strict and HttpOnly.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp.typedefs import Middleware

from aiohttp import web

log = logging.getLogger(__name__)

SESSION_COOKIE = "touchgate_session"
# Reachable without a token: liveness, and the way in and out of the status page.
OPEN_PATHS = frozenset({"/healthz", "/login", "/logout", "/"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Authenticator:
    """`token=None` means authentication is off (only with `api.insecure_no_auth`)."""

    def __init__(self, token: str | None, login_code: str | None = None) -> None:
        self._token = token.encode() if token is not None else None
        self._login_code = login_code.encode() if login_code and token is not None else None

    def consume_login_code(self, candidate: str) -> bool:
        """The one-time login link: the code works once, then never again (until a restart
        with a new code in the settings)."""
        code = self._login_code
        if code is None or not hmac.compare_digest(candidate.encode(), code):
            return False
        self._login_code = None
        return True

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def token_matches(self, candidate: str) -> bool:
        if self._token is None:
            return True
        return hmac.compare_digest(candidate.encode(), self._token)

    def session_value(self) -> str:
        assert self._token is not None
        return hmac.new(self._token, b"touchgate status page session v1", hashlib.sha256).hexdigest()

    def is_authenticated(self, request: web.Request) -> bool:
        if self._token is None:
            return True
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer" and credentials and self.token_matches(credentials.strip()):
            return True
        if request.method in ("GET", "HEAD"):
            cookie = request.cookies.get(SESSION_COOKIE, "")
            return bool(cookie) and hmac.compare_digest(cookie, self.session_value())
        return False

    def set_session(self, response: web.StreamResponse, secure: bool) -> None:
        response.set_cookie(
            SESSION_COOKIE, self.session_value(), httponly=True, samesite="Strict", path="/", secure=secure
        )

    @staticmethod
    def clear_session(response: web.StreamResponse) -> None:
        response.del_cookie(SESSION_COOKIE, path="/")

    def middleware(self) -> Middleware:
        @web.middleware
        async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path not in OPEN_PATHS and not self.is_authenticated(request):
                log.info(
                    "refused unauthenticated request",
                    extra={"fields": {"event": "api_auth_refused", "method": request.method, "path": _route_of(request)}},
                )
                raise web.HTTPUnauthorized(
                    headers={"WWW-Authenticate": 'Bearer realm="touchgate"'},
                    text="a bearer token is required (Authorization: Bearer <api.token>)",
                )
            return await handler(request)

        return authenticate


def _route_of(request: web.Request) -> str:
    """The route template, not the raw path: paths can carry customer ids."""
    info = request.match_info.route.resource
    return info.canonical if info is not None else "<unmatched>"
