"""The HTTP API of the reference profile service (aiohttp), as openapi.yaml describes it.

Request bodies may be gzip-compressed (`Content-Encoding: gzip`; aiohttp inflates them). Every
answer other than 2xx carries a `Problem` body. Storage is a `ProfileStore` (SQLite or PostgreSQL,
as the settings choose); a worker holds no state of its own beyond its connections.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from profile_service.models import (
    AttributeValue,
    BatchEnvelope,
    BatchResult,
    ChangesPage,
    ConsentIn,
    ErasureBatch,
    ErasureResult,
    EventIn,
    Problem,
    Rejection,
    Seed,
)
from profile_service.seed import load_seed
from profile_service.settings import ServiceSettings
from profile_service.store import ProfileStore, open_store

log = logging.getLogger("profile_service")
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SETTINGS = web.AppKey("settings", ServiceSettings)
SITE = web.RequestKey("site", str)  # the site the bearer token belongs to

_event_adapter: TypeAdapter[EventIn] = TypeAdapter(EventIn)
_profile_adapter: TypeAdapter[dict[str, AttributeValue]] = TypeAdapter(dict[str, AttributeValue])


STORE = web.AppKey("store", ProfileStore)


def problem(status: int, error: str, detail: str = "", headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(Problem(error=error, detail=detail).model_dump(), status=status, headers=headers)


def reply(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(body=model.model_dump_json(), status=status, content_type="application/json")


async def read_model(request: web.Request, model: type[T]) -> T:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise _HttpProblem(problem(413, "too_large", str(exc))) from exc
    try:
        return model.model_validate_json(raw)  # type: ignore[attr-defined, no-any-return]
    except ValidationError as exc:
        raise _HttpProblem(problem(400, "invalid_body", str(exc.errors(include_url=False))[:2000])) from exc


class _HttpProblem(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


def _token_matches(presented: str, expected: str) -> bool:
    return hmac.compare_digest(presented.encode(), expected.encode())


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bearer token per site; /v1/admin/* needs the admin token."""
    settings = request.app[SETTINGS]
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else ""
    if request.path == "/openapi.yaml":
        return await handler(request)
    if request.path.startswith("/v1/admin/"):
        admin = settings.admin_token
        if admin is None or not token or not _token_matches(token, admin.get_secret_value()):
            return problem(401, "unauthorized", "admin token required", {"WWW-Authenticate": "Bearer"})
        return await handler(request)
    for site, expected in settings.site_tokens.items():
        if token and _token_matches(token, expected.get_secret_value()):
            request[SITE] = site
            try:
                return await handler(request)
            except _HttpProblem as exc:
                return exc.response
    return problem(401, "unauthorized", "unknown or missing bearer token", {"WWW-Authenticate": "Bearer"})


async def post_events(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    envelope = await read_model(request, BatchEnvelope)
    if len(envelope.events) > settings.max_batch_events:
        return problem(413, "too_many_events", f"at most {settings.max_batch_events} events per batch")
    valid: list[EventIn] = []
    rejected: list[Rejection] = []
    for raw in envelope.events:
        try:
            valid.append(_event_adapter.validate_python(raw))
        except ValidationError as exc:
            event_id = raw.get("id")
            if not isinstance(event_id, str):
                # Without an id the gateway cannot tell which event was bad: refuse the batch.
                return problem(400, "event_without_id", "every event needs a string id")
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            rejected.append(Rejection(id=event_id, reason=f"invalid_event: {where}: {first['msg']}"))
    accepted, refused = await request.app[STORE].store_events(
        request[SITE], valid, settings.known_customers_only, len(rejected)
    )
    return reply(BatchResult(accepted=accepted, rejected=rejected + refused))


async def get_changes(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    site = request.query.get("site", request[SITE])
    if site != request[SITE]:
        return problem(403, "wrong_site", "the token belongs to another site")
    since_text = request.query.get("since", "0") or "0"
    try:
        since = int(since_text)
        limit = min(int(request.query.get("limit", settings.changes_page_max)), settings.changes_page_max)
    except ValueError:
        return problem(400, "invalid_cursor", "since and limit are integers")
    if since < 0 or limit < 1:
        return problem(400, "invalid_cursor", "since ≥ 0 and limit ≥ 1")
    changes, cursor, more = await request.app[STORE].changes_since(since, limit)
    return reply(ChangesPage(changes=changes, cursor=str(cursor), more=more))


async def post_erasures(request: web.Request) -> web.Response:
    batch = await read_model(request, ErasureBatch)
    accepted = await request.app[STORE].erase(request[SITE], batch.erasures)
    return reply(ErasureResult(accepted=accepted))


async def admin_seed(request: web.Request) -> web.Response:
    try:
        seed = await read_model(request, Seed)
    except _HttpProblem as exc:
        return exc.response
    count = await request.app[STORE].apply_seed(seed)
    return web.json_response({"customers": count})


async def admin_profile(request: web.Request) -> web.Response:
    try:
        attributes = _profile_adapter.validate_json(await request.read())
    except ValidationError as exc:
        return problem(400, "invalid_body", str(exc.errors(include_url=False))[:2000])
    await request.app[STORE].admin_set_profile(request.match_info["customer_id"], attributes)
    return web.json_response({"ok": True})


async def admin_consent(request: web.Request) -> web.Response:
    try:
        consent = await read_model(request, ConsentIn)
    except _HttpProblem as exc:
        return exc.response
    await request.app[STORE].admin_set_consent(request.match_info["customer_id"], consent)
    return web.json_response({"ok": True})


async def admin_stats(request: web.Request) -> web.Response:
    return web.json_response(await request.app[STORE].counters())


async def openapi(request: web.Request) -> web.FileResponse:
    return web.FileResponse(Path(__file__).with_name("openapi.yaml"))


def create_app(settings: ServiceSettings) -> web.Application:
    app = web.Application(middlewares=[auth_middleware], client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings

    async def store_context(app: web.Application) -> AsyncIterator[None]:
        store = await open_store(settings)
        try:
            if settings.seed_file is not None:
                seeded = await store.seed_if_empty(load_seed(settings.seed_file))
                if seeded is not None:
                    log.info("seeded %d customers from %s", seeded, settings.seed_file)
            app[STORE] = store
            yield
        finally:
            await store.close()

    app.cleanup_ctx.append(store_context)
    app.router.add_post("/v1/events:batch", post_events)
    app.router.add_get("/v1/changes", get_changes)
    app.router.add_post("/v1/erasures", post_erasures)
    app.router.add_post("/v1/admin/seed", admin_seed)
    app.router.add_put("/v1/admin/customers/{customer_id}/profile", admin_profile)
    app.router.add_put("/v1/admin/customers/{customer_id}/consent", admin_consent)
    app.router.add_get("/v1/admin/stats", admin_stats)
    app.router.add_get("/openapi.yaml", openapi)
    return app
