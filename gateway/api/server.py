"""The aiohttp application and its lifetime: middlewares (problems as JSON, authentication), a
JSON access log that names route templates (paths can carry customer ids), and `serve_api`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from gateway.api.context import ApiContext
from gateway.api.analytics_routes import add_analytics_routes
from gateway.api.models import Problem
from gateway.api.page import add_page_routes
from gateway.api.routes import CONTEXT, add_api_routes

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PAGE_PATHS = frozenset({"/", "/login", "/logout"})


def _problem(status: int, reason: str, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    code = reason.lower().replace(" ", "_")
    body = Problem(error=code, detail=detail).model_dump_json()
    response = web.json_response(text=body, status=status)
    for key, value in (headers or {}).items():
        if key.lower() != "content-type":
            response.headers[key] = value
    return response


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors of the JSON API become `Problem` bodies; an unexpected error is logged with its
    traceback and answered 500 (the server keeps serving)."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or request.path in PAGE_PATHS:
            raise
        detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        extra = {k: v for k, v in exc.headers.items() if k in ("WWW-Authenticate", "Allow", "Retry-After")}
        return _problem(exc.status, exc.reason, detail or exc.reason, extra)
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - request boundary: logged with traceback, answered 500
        log.exception("API handler failed", extra={"fields": {"event": "api_error", "method": request.method}})
        return _problem(500, "Internal Server Error", "the gateway failed to answer; see its log")
    return response


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


class JsonAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        route = "<unmatched>"
        match_info = getattr(request, "match_info", None)
        resource = match_info.route.resource if match_info is not None else None
        if resource is not None:
            route = resource.canonical
        self.logger.info(
            "http request",
            extra={
                "fields": {
                    "event": "http_request",
                    "method": request.method,
                    "route": route,
                    "status": response.status,
                    "duration_ms": round(time * 1000, 2),
                }
            },
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


def make_app(ctx: ApiContext) -> web.Application:
    # Order: headers outermost, then problems (so auth refusals become JSON), then auth.
    app = web.Application(
        middlewares=[security_headers, problem_middleware, ctx.auth.middleware()], client_max_size=64 * 1024
    )
    app[CONTEXT] = ctx
    add_api_routes(app)
    add_analytics_routes(app)
    add_page_routes(app)
    return app


async def serve_api(ctx: ApiContext, on_bound: Callable[[str, int], None] | None = None) -> None:
    """Run the server until cancelled. `on_bound(host, port)` reports the real port (port 0)."""
    runner = web.AppRunner(make_app(ctx), access_log_class=JsonAccessLogger, access_log=logging.getLogger("gateway.api.access"))
    await runner.setup()
    try:
        site = web.TCPSite(runner, ctx.settings.host, ctx.settings.port, reuse_address=True)
        await site.start()
        host, port = _bound_address(runner, ctx.settings.host, ctx.settings.port)
        log.info("admin API listening", extra={"fields": {"event": "api_listening", "host": host, "port": port}})
        if on_bound is not None:
            on_bound(host, port)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def _bound_address(runner: web.AppRunner, host: str, port: int) -> tuple[str, int]:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return str(address[0]), int(address[1])
    return host, port
