"""The HTTP API of the reference profile service (aiohttp), as openapi.yaml describes it.

Request bodies may be gzip-compressed (`Content-Encoding: gzip`; aiohttp inflates them). Every
answer other than 2xx carries a `Problem` body. Storage is a `ProfileStore` (SQLite or PostgreSQL,
as the settings choose); a worker holds no state of its own beyond its connections.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from profile_service.models import (
    AttributeValue,
    BatchEnvelope,
    BatchResult,
    ChangesPage,
    ConsentIn,
    ErasureBatch,
    ErasureResult,
    EventIn,
    HeldErasures,
    ValidBatch,
    Problem,
    Rejection,
    Seed,
)
from profile_service.authority import OFFICER
from profile_service.seed import load_seed
from profile_service.settings import ServiceSettings
from profile_service.store import ProfileStore, open_store

log = logging.getLogger("profile_service")
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SETTINGS = web.AppKey("settings", ServiceSettings)
SITES_BY_TOKEN = web.AppKey("sites_by_token", dict[bytes, str])
# The token's site, or OFFICER for the privacy officer's token (erasures and their review only).
SITE = web.RequestKey("site", str)
BATCH_SLOTS = web.AppKey("batch_slots", asyncio.Semaphore)
JITTER = web.AppKey("jitter", random.Random)  # spreads the retries of shops told to wait  # the site the bearer token belongs to

_event_adapter: TypeAdapter[EventIn] = TypeAdapter(EventIn)
_profile_adapter: TypeAdapter[dict[str, AttributeValue]] = TypeAdapter(
    dict[str, AttributeValue], config=ConfigDict(allow_inf_nan=False)
)


STORE = web.AppKey("store", ProfileStore)
HELD_ERASURES_PATH = "/v1/privacy/held-erasures"
OFFICER_PATHS = frozenset({"/v1/erasures", HELD_ERASURES_PATH})  # what the officer's token opens
OFFICER_ONLY_PATHS = frozenset({HELD_ERASURES_PATH})


def problem(status: int, error: str, detail: str = "", headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(Problem(error=error, detail=detail).model_dump(), status=status, headers=headers)


def reply(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(body=model.model_dump_json(), status=status, content_type="application/json")


async def read_body(request: web.Request) -> bytes:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise _HttpProblem(problem(413, "too_large", str(exc))) from exc
    if _has_non_finite_literal(raw):
        raise _HttpProblem(problem(400, "not_json", "NaN and Infinity are not JSON numbers (RFC 8259)"))
    return raw


def _refuse_constant(name: str) -> object:
    raise ValueError(name)


def _has_non_finite_literal(raw: bytes) -> bool:
    """True if the body uses NaN/Infinity as numbers. pydantic's parser takes them (and would
    store them, or store nothing while answering "accepted"); they are not JSON. The strict parse
    runs only when the words occur at all, so the usual body costs two substring searches."""
    if b"NaN" not in raw and b"Infinity" not in raw:
        return False
    try:
        json.loads(raw, parse_constant=_refuse_constant)
    except ValueError as exc:
        return str(exc) in ("NaN", "Infinity", "-Infinity")
    return False


async def read_model(request: web.Request, model: type[T]) -> T:
    raw = await read_body(request)
    try:
        return model.model_validate_json(raw)  # type: ignore[attr-defined, no-any-return]
    except ValidationError as exc:
        raise _HttpProblem(problem(400, "invalid_body", str(exc.errors(include_url=False))[:2000])) from exc


class _HttpProblem(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


def _token_digest(token: str) -> bytes:
    """Sites are found by the SHA-256 of their token: one dict lookup however many shops the chain
    has, and what a lookup's timing could reveal is a digest, not the token."""
    return hashlib.sha256(token.encode()).digest()


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
    officer = settings.privacy_officer_token
    if officer is not None and token and _token_matches(token, officer.get_secret_value()):
        site: str | None = OFFICER if request.path in OFFICER_PATHS else None
    else:
        site = request.app[SITES_BY_TOKEN].get(_token_digest(token)) if token else None
        if request.path in OFFICER_ONLY_PATHS:
            site = None
    if site is not None:
        request[SITE] = site
        try:
            return await handler(request)
        except _HttpProblem as exc:
            return exc.response
    return problem(401, "unauthorized", "unknown or missing bearer token", {"WWW-Authenticate": "Bearer"})


async def post_events(request: web.Request) -> web.Response:
    """Busy workers say so at once (503 + Retry-After) rather than queueing batches the gateways
    will have given up on (their timeout) and sent again: that queue only grows."""
    slots = request.app[BATCH_SLOTS]
    if slots.locked():
        pause = request.app[JITTER].randint(1, 3)
        return problem(503, "busy", "too many batches in progress; retry after the pause", {"Retry-After": str(pause)})
    async with slots:
        return await _post_events(request)


async def _post_events(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    try:
        # The common case, every event valid, in one pass of pydantic's JSON parser; a batch with
        # a bad event is read again event by event, so each is judged on its own.
        valid = ValidBatch.model_validate_json(await read_body(request)).events
        if len(valid) > settings.max_batch_events:
            return problem(413, "too_many_events", f"at most {settings.max_batch_events} events per batch")
        rejected: list[Rejection] = []
    except ValidationError:
        valid, rejected, refusal = await _events_one_by_one(request, settings.max_batch_events)
        if refusal is not None:
            return refusal
    accepted, refused = await request.app[STORE].store_events(
        request[SITE], valid, settings.known_customers_only, len(rejected)
    )
    return reply(BatchResult(accepted=accepted, rejected=rejected + refused))


async def _events_one_by_one(
    request: web.Request, max_events: int
) -> tuple[list[EventIn], list[Rejection], web.Response | None]:
    envelope = await read_model(request, BatchEnvelope)
    if len(envelope.events) > max_events:
        return [], [], problem(413, "too_many_events", f"at most {max_events} events per batch")
    valid: list[EventIn] = []
    rejected: list[Rejection] = []
    for raw in envelope.events:
        try:
            valid.append(_event_adapter.validate_python(raw))
        except ValidationError as exc:
            event_id = raw.get("id")
            if not isinstance(event_id, str):
                # Without an id the gateway cannot tell which event was bad: refuse the batch.
                return [], [], problem(400, "event_without_id", "every event needs a string id")
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            rejected.append(Rejection(id=event_id, reason=f"invalid_event: {where}: {first['msg']}"))
    return valid, rejected, None


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
    """A site's erasures apply at once for customers it has seen, else they are held for the
    privacy officer (profile_service.authority); the officer's apply to anyone."""
    batch = await read_model(request, ErasureBatch)
    limit = request.app[SETTINGS].max_batch_events
    if len(batch.erasures) > limit:  # each one is a row kept (held ones too): bounded like event batches
        return problem(413, "too_many_erasures", f"at most {limit} erasures per request")
    requester = request[SITE]
    accepted, held = await request.app[STORE].erase(requester, batch.erasures)
    if held:  # ids only: the log carries no customer id
        log.warning("%s asked to erase %d customer(s) it never sent an event of: held for the privacy officer (%s)",
                    requester, len(held), ", ".join(held[:10]))
    log.info("erasures from %s: %d taken, %d held", requester, len(accepted), len(held))
    return reply(ErasureResult(accepted=accepted, held=held))


async def get_held_erasures(request: web.Request) -> web.Response:
    """The privacy officer's review list: erasures sites asked for and could not apply themselves."""
    return reply(HeldErasures(held=await request.app[STORE].held_erasures()))


async def admin_seed(request: web.Request) -> web.Response:
    try:
        seed = await read_model(request, Seed)
    except _HttpProblem as exc:
        return exc.response
    count = await request.app[STORE].apply_seed(seed)
    return web.json_response({"customers": count})


async def admin_profile(request: web.Request) -> web.Response:
    try:
        attributes = _profile_adapter.validate_json(await read_body(request))
    except _HttpProblem as exc:
        return exc.response
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
    app[BATCH_SLOTS] = asyncio.Semaphore(settings.max_concurrent_batches)
    app[JITTER] = random.Random()
    app[SITES_BY_TOKEN] = {_token_digest(t.get_secret_value()): site for site, t in settings.site_tokens.items()}

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
    app.router.add_get(HELD_ERASURES_PATH, get_held_erasures)
    app.router.add_post("/v1/admin/seed", admin_seed)
    app.router.add_put("/v1/admin/customers/{customer_id}/profile", admin_profile)
    app.router.add_put("/v1/admin/customers/{customer_id}/consent", admin_consent)
    app.router.add_get("/v1/admin/stats", admin_stats)
    app.router.add_get("/openapi.yaml", openapi)
    return app
