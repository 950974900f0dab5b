"""Every endpoint of the admin API against a real gateway: auth, numbers against the database,
paging, the OpenAPI document matching the server."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from aiohttp import web

from gateway.api.openapi import component_schemas, load_document
from gateway.api.page import add_page_routes
from gateway.api.routes import add_api_routes
from gateway.api.analytics_routes import add_analytics_routes
from tests.api.conftest import TOKEN, ApiHarness, sample_messages, started_api
from tests.support.gateway import wait_until
from tests.support.mosquitto import Mosquitto

DOC = load_document()
METHODS = ("get", "post", "put", "patch", "delete")


def documented_operations() -> list[tuple[str, str, bool]]:
    """(method, path, needs a token) for every operation in the OpenAPI document."""
    out = []
    global_security = DOC.get("security", [])
    for path, item in DOC["paths"].items():
        for method in METHODS:
            if method in item:
                security = item[method].get("security", global_security)
                out.append((method.upper(), path, bool(security)))
    return out


def test_openapi_documents_exactly_the_served_routes() -> None:
    app = web.Application()
    add_api_routes(app)
    add_analytics_routes(app)
    add_page_routes(app)
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    documented = {(m, p) for m, p, _ in documented_operations()}
    assert served == documented


def test_openapi_schemas_are_the_server_models() -> None:
    assert DOC["components"]["schemas"] == component_schemas(), "run `python -m gateway.api.openapi` to regenerate"


async def test_every_protected_route_refuses_without_or_with_a_wrong_token(broker: Mosquitto, tmp_path: Path) -> None:
    # Two wrong tokens per route from one address: unthrottled here (tests/api/test_sessions.py).
    async with started_api(broker, tmp_path, login_failures_per_client=1000, login_failures_global=1000) as api:
        await _refuses_without_the_token(api)


async def _refuses_without_the_token(api: ApiHarness) -> None:
    protected = [(m, p) for m, p, secured in documented_operations() if secured]
    assert len(protected) >= 11
    for method, path in protected:
        concrete = api.url + path.replace("{customer_id}", "card:1234")
        for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": f"Basic {TOKEN}"}):
            async with api.anon.request(method, concrete, headers=headers) as response:
                assert response.status == 401, (method, path, headers)
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
                body = await response.json()
                assert body["error"] == "unauthorized"
    # Nothing was erased by those refused DELETEs.
    assert api.db_scalar("SELECT count(*) FROM audit WHERE kind LIKE '%erasure%'") == 0


async def test_healthz_needs_no_token_and_readyz_follows_the_broker(api: ApiHarness) -> None:
    async with api.anon.get(api.url + "/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}
    ready = await api.get_json("/readyz")
    assert ready == {"ready": True, "broker_connected": True, "store_writable": True, "started": True, "detail": ""}
    api.broker.stop()
    try:
        await wait_until(lambda: not api.runtime.mqtt.connected)
        down = await api.get_json("/readyz", status=503)
        assert down["ready"] is False and down["broker_connected"] is False and down["store_writable"] is True
        assert "broker" in down["detail"]
    finally:
        api.broker.start()
    await wait_until(lambda: api.runtime.mqtt.connected)
    assert (await api.get_json("/readyz"))["ready"] is True


async def test_status_and_devices_match_the_database(api: ApiHarness) -> None:
    empty = await api.get_json("/api/status")
    assert empty["events"]["total"] == 0 and empty["devices_seen"] == 0 and empty["devices"] == []
    messages = sample_messages()
    await api.publish(messages)
    status = await api.get_json("/api/status")
    assert status["site"] == "shop1" and status["source"] == "gateway" and status["ready"] is True
    assert status["broker"] == {"connected": True, "host": api.broker.host, "port": api.broker.port}
    assert status["events"]["total"] == api.db_scalar("SELECT count(*) FROM events") == len(messages)
    assert status["events"]["per_minute"] == len(messages)
    assert status["outbox"]["depth"] == api.db_scalar("SELECT count(*) FROM outbox")
    assert status["outbox"]["bytes"] == api.db_scalar("SELECT coalesce(sum(bytes), 0) FROM outbox")
    assert status["devices_seen"] == api.db_scalar("SELECT count(*) FROM devices")
    assert status["central"]["configured"] is False

    devices = (await api.get_json("/api/devices"))["items"]
    assert len(devices) == status["devices_seen"]
    assert sum(d["messages"] for d in devices) == len(messages)
    seen = [d["last_seen"] for d in devices]
    assert seen == sorted(seen, reverse=True)
    by_device = {d["device"]: d for d in devices}
    assert by_device["24E124716C123456"]["profile"] == "milesight-vs133"


async def test_dead_letters_are_paged_newest_first(api: ApiHarness) -> None:
    topic = "milesight/shop1/24E124716C123456/uplink"
    bad = [(topic, f"not json {i}") for i in range(7)] + [(topic, '{"line_1_total_in": "many"}')]
    await api.publish(bad)
    total = api.db_scalar("SELECT count(*) FROM dead_letters")
    assert total == 8
    pages, before = [], None
    while True:
        query = "/api/dead-letters?limit=3" + (f"&before={before}" if before else "")
        page = await api.get_json(query)
        pages.append(page["items"])
        before = page["next_before"]
        if before is None:
            break
    assert [len(p) for p in pages] == [3, 3, 2]
    ids = [item["id"] for p in pages for item in p]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 8
    newest = pages[0][0]
    assert newest["topic"] == topic and newest["raw_size"] == len(newest["raw_text"].encode())
    assert base64.b64decode(newest["raw_base64"]).decode() == newest["raw_text"]

    only_json = await api.get_json("/api/dead-letters?reason=invalid_json&limit=500")
    assert len(only_json["items"]) == 7 and {i["reason"] for i in only_json["items"]} == {"invalid_json"}
    assert (await api.get_json("/api/status"))["dead_letters"]["total"] == 8

    for query in ("limit=0", "limit=501", "limit=abc", "before=0", "reason=", "unknown=1"):
        body = await api.get_json(f"/api/dead-letters?{query}", status=400)
        assert body["error"] == "bad_request" and body["detail"]


async def test_consents_are_paged_and_filtered(api: ApiHarness) -> None:
    rows = [
        {"customer_id": f"card:{i:04d}", "purpose": purpose, "status": "granted", "changed_at": 1_700_000_000.0 + i,
         "source": "central", "expires_at": None}
        for i in range(5)
        for purpose in ("analytics", "marketing")
    ]
    await api.runtime.store.call(lambda db: db.conn.executemany(
        "INSERT INTO consents (customer_id, purpose, status, changed_at, source, expires_at)"
        " VALUES (:customer_id, :purpose, :status, :changed_at, :source, :expires_at)", rows
    ))
    first = await api.get_json("/api/consents?limit=4")
    assert first["total"] == 10 and len(first["items"]) == 4 and first["offset"] == 0
    everything = []
    for offset in range(0, 10, 4):
        everything += (await api.get_json(f"/api/consents?limit=4&offset={offset}"))["items"]
    assert [(r["customer_id"], r["purpose"]) for r in everything] == sorted((r["customer_id"], r["purpose"]) for r in rows)
    one = await api.get_json("/api/consents?customer_id=card:0003")
    assert one["total"] == 2 and {r["purpose"] for r in one["items"]} == {"analytics", "marketing"}
    marketing = await api.get_json("/api/consents?purpose=marketing&limit=500")
    assert marketing["total"] == 5
    assert (await api.get_json("/api/consents?offset=-1", status=400))["error"] == "bad_request"


async def test_rules_list_and_reload(api: ApiHarness, tmp_path: Path) -> None:
    engine = api.runtime.service("rules")
    assert engine is not None, "the rules part is configured by default"
    listed = (await api.get_json("/api/rules"))["items"]
    assert {r["id"] for r in listed} == set(engine.engine.rules.rules)
    assert all(r["source"] and r["trigger"] for r in listed)
    async with api.http.post(api.url + "/api/rules/reload") as response:
        body = await response.json()
        assert response.status == 200, body
    assert body == {"reloaded": True, "count": len(listed), "problems": []}


async def test_rules_answer_503_when_the_engine_is_off(broker: Mosquitto, tmp_path: Path) -> None:
    async with started_api(broker, tmp_path, sections={"rules": {"enabled": False}}) as api:
        assert api.runtime.service("rules") is None
        for method, path in (("GET", "/api/rules"), ("POST", "/api/rules/reload")):
            async with api.http.request(method, api.url + path) as response:
                assert response.status == 503
                assert await response.json() == {
                    "error": "service_unavailable",
                    "detail": "the rules engine is turned off (rules.enabled: false)",
                }


async def test_metrics_count_what_happened(api: ApiHarness) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    messages = sample_messages()
    await api.publish(messages + [("milesight/shop1/24E124716C123456/uplink", "garbage")])
    api.runtime.metrics.voice_turn(0.8, 0.05, text="where is the milk", intent="FindProduct", site="kiosk1")
    api.runtime.metrics.voice_turn(2.5, 0.2, text="mumble", intent=None, site="kiosk1", noisy=True)
    async with api.http.get(api.url + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    kinds = api.db_scalar("SELECT count(DISTINCT kind) FROM events")
    events_in = {k: v for k, v in samples.items() if k[0] == "touchgate_events_in_total"}
    assert len(events_in) == kinds and sum(events_in.values()) == len(messages)
    assert samples[("touchgate_events_in_total", (("kind", "footfall"),))] == api.db_scalar(
        "SELECT count(*) FROM events WHERE kind = 'footfall'"
    )
    assert samples[("touchgate_dead_letters_total", (("reason", "invalid_json"),))] == 1
    assert samples[("touchgate_outbox_depth", ())] == api.db_scalar("SELECT count(*) FROM outbox")
    assert samples[("touchgate_outbox_oldest_age_seconds", ())] > 0
    assert samples[("touchgate_events_last_minute", ())] == len(messages)
    assert samples[("touchgate_ingest_received_total", ())] == len(messages) + 1
    assert samples[("touchgate_broker_connected", ())] == 1
    assert samples[("touchgate_voice_turns_total", (("outcome", "recognised"),))] == 1
    assert samples[("touchgate_voice_turns_total", (("outcome", "not_recognised"),))] == 1
    assert samples[("touchgate_voice_noisy_turns_total", ())] == 1
    assert samples[("touchgate_voice_turn_latency_seconds_count", ())] == 2
    assert samples[("touchgate_voice_turn_latency_seconds_bucket", (("le", "1.0"),))] == 1
    assert samples[("touchgate_asr_real_time_factor_sum", ())] == pytest.approx(0.25)
    status = await api.get_json("/api/status")
    assert [t["text"] for t in status["recent_voice_turns"]] == ["mumble", "where is the milk"]


async def test_metrics_can_be_turned_off(broker: Mosquitto, tmp_path: Path) -> None:
    async with started_api(broker, tmp_path, metrics=False) as api:
        body = await api.get_json("/metrics", status=404)
        assert "api.metrics" in body["detail"]


async def test_unknown_route_and_wrong_method_are_json_problems(api: ApiHarness) -> None:
    assert (await api.get_json("/api/nothing-here", status=404))["error"] == "not_found"
    async with api.http.put(api.url + "/api/status") as response:
        assert response.status == 405
        assert (await response.json())["error"] == "method_not_allowed"
    too_long = "x" * 129
    assert (await api.get_json(f"/api/customers/{too_long}", status=400))["error"] == "bad_request"
