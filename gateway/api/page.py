"""The status page at `/`: server-rendered HTML (no front-end build), kept live by a small inline
script that re-reads /api/status. Login is a form that trades the API token for a cookie."""

from __future__ import annotations

import html
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from string import Template
from typing import TypeVar

from aiohttp import web

from gateway.api.auth import TooManyAttempts
from gateway.api.models import StatusReport
from gateway.api.routes import CONTEXT, current_status

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).with_name("templates")
T = TypeVar("T")


@cache
def _asset(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def hms(ts: float | None) -> str:
    """Same format as the page script, so a refresh does not change how a time looks."""
    return "–" if ts is None else time.strftime("%H:%M:%S", time.gmtime(ts))


def age(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{round(seconds)} s"
    if seconds < 7200:
        return f"{round(seconds / 60)} min"
    return f"{round(seconds / 3600)} h"


def _rows(items: Sequence[T], cells: Callable[[T], Sequence[tuple[object, bool]]], columns: int, empty: str) -> str:
    if not items:
        return f'<tr><td colspan="{columns}" class="empty">{html.escape(empty)}</td></tr>'
    out = []
    for item in items:
        tds = "".join(
            f'<td class="num">{html.escape(str(v))}</td>' if numeric else f"<td>{html.escape(str(v))}</td>"
            for v, numeric in cells(item)
        )
        out.append(f"<tr>{tds}</tr>")
    return "".join(out)


def _central(report: StatusReport) -> tuple[str, str]:
    return central_badge(report.central.configured, report.central.state, report.central.last_error)


def central_badge(configured: bool | None, state: str | None, last_error: str) -> tuple[str, str]:
    """(css class, text); the page script does the same."""
    if configured is None:
        return "unknown", "unknown"
    if not configured:
        return "unknown", "not configured"
    if state in ("backoff", "refused") or last_error:
        return "bad", state or "error"
    return ("ok", state) if state else ("unknown", "starting")


def render_status(report: StatusReport, nonce: str, refresh_s: float) -> str:
    broker = report.broker.connected
    central_class, central_text = _central(report)
    values: dict[str, object] = {
        "site": report.site,
        "version": report.version,
        "broker_class": "ok" if broker else ("unknown" if broker is None else "bad"),
        "broker_text": "connected" if broker else ("unknown" if broker is None else "disconnected"),
        "central_class": central_class,
        "central_text": central_text,
        "last_sync": hms(report.central.last_success_at),
        "events_per_minute": report.events.per_minute,
        "events_total": report.events.total,
        "outbox_depth": report.outbox.depth,
        "outbox_age": age(report.outbox.oldest_age_s),
        "dead_letters_total": report.dead_letters.total,
        "devices_seen": report.devices_seen,
        "generated_at": hms(report.generated_at),
        "refresh_s": f"{refresh_s:g}",
    }
    escaped = {k: html.escape(str(v)) for k, v in values.items()}
    escaped.update(
        nonce=nonce,
        refresh_ms=str(int(refresh_s * 1000)),
        css=_asset("style.css"),
        script=_asset("status.js"),
        zones_script=_asset("zones.js"),
        devices_rows=_rows(
            report.devices,
            lambda d: [(d.site, False), (d.device, False), (d.profile, False), (hms(d.last_seen), False), (d.messages, True)],
            5,
            "no device has sent anything yet",
        ),
        voice_rows=_rows(
            report.recent_voice_turns,
            lambda t: [
                (hms(t.at), False),
                (t.site, False),
                (t.text, False),
                (t.intent or "(not recognised)", False),
                (f"{t.latency_s:.2f} s", True),
            ],
            5,
            "no voice turn yet",
        ),
        rule_rows=_rows(
            report.recent_rule_firings,
            lambda f: [(hms(f.at), False), (f.rule, False), (f.event_id or "", False), (f.detail, False)],
            4,
            "no rule has fired yet",
        ),
        dead_letter_rows=_rows(
            report.recent_dead_letters,
            lambda d: [(hms(d.received_at), False), (d.topic, False), (d.reason, False), (d.detail, False)],
            4,
            "no dead letters",
        ),
    )
    return Template(_asset("status.html")).substitute(escaped)


def render_login(site: str, nonce: str, error: str = "") -> str:
    error_html = f'<p class="error" id="login-error">{html.escape(error)}</p>' if error else ""
    return Template(_asset("login.html")).substitute(
        site=html.escape(site), nonce=nonce, css=_asset("style.css"), error=error_html
    )


def _html(body: str, nonce: str, status: int = 200) -> web.Response:
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; connect-src 'self';"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return response


async def index(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    nonce = secrets.token_urlsafe(16)
    try:
        allowed = await ctx.auth.is_authenticated(request)
    except TooManyAttempts as exc:
        return _too_many(ctx.site, exc)
    if not allowed:
        return _html(render_login(ctx.site, nonce), nonce)
    report = await current_status(ctx)
    return _html(render_status(report, nonce, ctx.settings.status_refresh_s), nonce)


def _too_many(site: str, exc: TooManyAttempts) -> web.Response:
    nonce = secrets.token_urlsafe(16)
    wait = exc.throttled.retry_after_s
    response = _html(render_login(site, nonce, f"Too many wrong tokens. Try again in {wait} s."), nonce, status=429)
    response.headers["Retry-After"] = str(wait)
    return response


async def login(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    if request.content_type != "application/x-www-form-urlencoded":
        raise web.HTTPUnsupportedMediaType(text="log in with the form (application/x-www-form-urlencoded)")
    try:
        form = await request.post()
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"unreadable form: {exc}") from exc
    token = form.get("token")
    try:
        accepted = isinstance(token, str) and await ctx.auth.attempt(request, "form", lambda: ctx.auth.token_matches(token))
    except TooManyAttempts as exc:
        return _too_many(ctx.site, exc)
    return await _logged_in_or_refused(request, bool(accepted), "form", "That token is not right.")


async def login_link(request: web.Request) -> web.Response:
    """GET /login?code=…: the one-time login link (`api.login_code`; the demo prints it)."""
    ctx = request.app[CONTEXT]
    code = request.query.get("code", "")
    try:
        accepted = 0 < len(code) <= 200 and await ctx.auth.attempt(request, "link", lambda: ctx.auth.consume_login_code(code))
    except TooManyAttempts as exc:
        return _too_many(ctx.site, exc)
    return await _logged_in_or_refused(request, bool(accepted), "link", "That login link has been used already, or is not right.")


async def _logged_in_or_refused(request: web.Request, accepted: bool, via: str, refusal: str) -> web.Response:
    """The login form again with `refusal` (401), or a session and a redirect to the page."""
    ctx = request.app[CONTEXT]
    if not accepted:
        nonce = secrets.token_urlsafe(16)
        return _html(render_login(ctx.site, nonce, refusal), nonce, status=401)
    response = web.HTTPSeeOther("/")
    await ctx.auth.log_in(request, response, via)
    raise response


async def logout(request: web.Request) -> web.Response:
    """Ends the session on the server, so the cookie is worthless even if someone kept a copy."""
    response = web.HTTPSeeOther("/")
    await request.app[CONTEXT].auth.log_out(request, response)
    raise response


def add_page_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_post("/login", login)
    app.router.add_get("/login", login_link)
    app.router.add_post("/logout", logout)
