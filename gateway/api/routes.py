"""The admin API's JSON handlers. Each validates its input with a pydantic model and answers a
model from `gateway.api.models`; errors are `Problem` bodies (see `server.problem_middleware`)."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import TypeVar

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, ValidationError

from gateway.api.context import ApiContext
from gateway.api.models import (
    ApiModel,
    Consent,
    ConsentPage,
    CustomerExport,
    DeadLetterPage,
    Device,
    DeviceList,
    Health,
    Readiness,
    RuleList,
    StatusReport,
)
from gateway.api.status import build_status, dead_letter_item
from gateway.store.operator_rows import (
    consent_page,
    dead_letter_page,
    list_devices,
    readiness_probe,
    store_overview,
    store_snapshot,
)

log = logging.getLogger(__name__)

CONTEXT = web.AppKey("context", ApiContext)
OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")
CUSTOMER_ID_MAX = 128

Q = TypeVar("Q", bound=BaseModel)


class DeadLetterQuery(ApiModel):
    limit: int = Field(50, ge=1, le=500)
    before: int | None = Field(None, ge=1, le=2**62)
    reason: str | None = Field(None, min_length=1, max_length=64)


class ConsentQuery(ApiModel):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10_000_000)
    customer_id: str | None = Field(None, min_length=1, max_length=CUSTOMER_ID_MAX)
    purpose: str | None = Field(None, min_length=1, max_length=64)


def reply(model: BaseModel, status: int = 200) -> web.Response:
    return web.json_response(text=model.model_dump_json(), status=status)


def parse_query(request: web.Request, model: type[Q]) -> Q:
    try:
        return model.model_validate({key: request.query.getone(key) for key in request.query})
    except ValidationError as exc:
        raise web.HTTPBadRequest(text=_first_error(exc)) from exc


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in err["loc"]) or "query"
    return f"{where}: {err['msg']}"


def customer_id_of(request: web.Request) -> str:
    customer_id = request.match_info["customer_id"]
    # The same bound as Event.customer_id: any id an event can carry can be exported and erased.
    if not 1 <= len(customer_id) <= CUSTOMER_ID_MAX:
        raise web.HTTPBadRequest(text=f"customer id must be 1..{CUSTOMER_ID_MAX} characters")
    return customer_id


def ctx_of(request: web.Request) -> ApiContext:
    return request.app[CONTEXT]


async def healthz(request: web.Request) -> web.Response:
    return reply(Health(status="ok"))


async def readyz(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    store_ok, detail = True, ""
    try:
        await ctx.store.call(readiness_probe)
    except (sqlite3.Error, OSError, RuntimeError) as exc:
        store_ok, detail = False, f"store not writable: {exc}"
    broker = ctx.mqtt.connected
    started = ctx.ready.is_set()
    if not broker:
        detail = detail or "not connected to the MQTT broker"
    elif not started:
        detail = detail or "starting"
    ready = store_ok and broker and started
    return reply(Readiness(ready=ready, broker_connected=broker, store_writable=store_ok, started=started, detail=detail), 200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    if not ctx.settings.metrics:
        raise web.HTTPNotFound(text="metrics are turned off (api.metrics: false)")
    ctx.metrics.store_snapshot(await ctx.reader.call(store_snapshot))
    body = generate_latest(ctx.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def status(request: web.Request) -> web.Response:
    return reply(await current_status(ctx_of(request)))


async def current_status(ctx: ApiContext) -> StatusReport:
    overview = await ctx.reader.call(store_overview)
    ctx.metrics.store_snapshot(overview.snapshot)
    return build_status(ctx.site, ctx.broker_host, ctx.broker_port, overview, ctx.live_view())


async def devices(request: web.Request) -> web.Response:
    rows = await ctx_of(request).reader.call(list_devices)
    return reply(DeviceList(items=[Device.model_validate(r) for r in rows]))


async def dead_letters(request: web.Request) -> web.Response:
    q = parse_query(request, DeadLetterQuery)
    # One more than asked tells whether an older page exists.
    rows = await ctx_of(request).reader.call(lambda db: dead_letter_page(db, q.limit + 1, q.before, q.reason))
    page, more = rows[: q.limit], len(rows) > q.limit
    return reply(DeadLetterPage(items=[dead_letter_item(r) for r in page], next_before=page[-1]["id"] if more else None))


async def consents(request: web.Request) -> web.Response:
    q = parse_query(request, ConsentQuery)
    rows, total = await ctx_of(request).reader.call(
        lambda db: consent_page(db, q.limit, q.offset, q.customer_id, q.purpose)
    )
    return reply(ConsentPage(items=[Consent.model_validate(r) for r in rows], total=total, limit=q.limit, offset=q.offset))


def _unavailable(reason: str) -> web.HTTPServiceUnavailable:
    return web.HTTPServiceUnavailable(text=reason)


async def rules(request: web.Request) -> web.Response:
    services = ctx_of(request).services
    if services.rules is None:
        raise _unavailable(services.rules_missing_reason)
    return reply(RuleList(items=services.rules.list_rules()))


async def rules_reload(request: web.Request) -> web.Response:
    services = ctx_of(request).services
    if services.rules is None:
        raise _unavailable(services.rules_missing_reason)
    result = await services.rules.reload()
    log.info("rules reloaded through the API", extra={"fields": {"event": "rules_reload", "count": result.count, "ok": result.reloaded}})
    return reply(result, 200 if result.reloaded else 422)


async def customer_export(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    customer_id = customer_id_of(request)
    if ctx.services.customers is None:
        raise _unavailable(ctx.services.customers_missing_reason)
    data = await ctx.services.customers.export(customer_id)
    log.info("customer data exported", extra={"fields": {"event": "customer_export", "customer_id": customer_id}})
    return reply(CustomerExport(customer_id=customer_id, exported_at=time.time(), data=data))


async def customer_erase(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    customer_id = customer_id_of(request)
    if ctx.services.customers is None:
        raise _unavailable(ctx.services.customers_missing_reason)
    report = await ctx.services.customers.erase(customer_id)
    log.info(
        "customer erased through the API",
        extra={"fields": {"event": "customer_erase", "customer_id": customer_id, "deleted": report.deleted}},
    )
    return reply(report)


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=OPENAPI_PATH.read_bytes(), content_type="application/yaml")


def add_api_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.yaml", openapi)
    app.router.add_get("/api/status", status)
    app.router.add_get("/api/devices", devices)
    app.router.add_get("/api/dead-letters", dead_letters)
    app.router.add_get("/api/consents", consents)
    app.router.add_get("/api/rules", rules)
    app.router.add_post("/api/rules/reload", rules_reload)
    app.router.add_get("/api/customers/{customer_id}", customer_export)
    app.router.add_delete("/api/customers/{customer_id}", customer_erase)
