"""The reference profile service over real HTTP: idempotent batches, per-event rejections,
tokens, gzip, the changes feed's paging, erasures, seeding, and its OpenAPI document."""

from __future__ import annotations

import gzip
import sqlite3
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from profile_service.app import create_app
from profile_service.seed import DEMO_SEED, SeedError, load_seed
from profile_service.settings import ServiceSettings
from tests.sync.conftest import CONSENTED, OTHER_TOKEN, SITE, SITE_TOKEN, Central


def call(central: Central, method: str, path: str, body: Any = None, token: str = SITE_TOKEN, gz: bool = False) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if gz and data is not None:
        data, headers["Content-Encoding"] = gzip.compress(data), "gzip"
    request = urllib.request.Request(central.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def event(event_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": event_id, "received_at": 1.0, "site": SITE, "device": "d", "kind": "occupancy",
            "purpose": "analytics", "attributes": {"occupancy": True}, **extra}


def test_batch_is_idempotent_and_rejects_per_event(central: Central) -> None:
    batch = {"events": [event("a"), event("b", kind="Bad Kind"), event("c", customer_id=CONSENTED)]}
    status, first = call(central, "POST", "/v1/events:batch", batch, gz=True)
    assert status == 200
    assert first["accepted"] == ["a", "c"]
    assert [r["id"] for r in first["rejected"]] == ["b"] and first["rejected"][0]["reason"].startswith("invalid_event: kind")
    status, again = call(central, "POST", "/v1/events:batch", batch)
    assert again == first
    assert sorted(central.event_ids()) == ["a", "c"]
    assert central.stats() == {"events_stored": 2, "events_redelivered": 2, "events_rejected": 2}


def test_tokens_and_sites(central: Central) -> None:
    assert call(central, "POST", "/v1/events:batch", {"events": []}, token="wrong")[0] == 401
    assert call(central, "GET", "/v1/changes?since=0&site=shop1", token=OTHER_TOKEN)[0] == 403
    assert call(central, "GET", "/v1/admin/stats")[0] == 401  # a site token is not the admin token
    assert call(central, "POST", "/v1/events:batch", {"nope": []})[0] == 400


def test_changes_feed_pages_in_order(central: Central) -> None:
    status, page = call(central, "GET", "/v1/changes?since=0&site=shop1&limit=2")
    assert status == 200 and page["more"] is True and [c["seq"] for c in page["changes"]] == [1, 2]
    status, rest = call(central, "GET", f"/v1/changes?since={page['cursor']}&site=shop1")
    assert rest["more"] is False and [c["type"] for c in rest["changes"]] == ["profile"]
    status, empty = call(central, "GET", f"/v1/changes?since={rest['cursor']}&site=shop1")
    assert empty == {"changes": [], "cursor": rest["cursor"], "more": False}


def test_erasure_deletes_rejects_later_events_and_is_announced_once(central: Central) -> None:
    call(central, "POST", "/v1/events:batch", {"events": [event("x", customer_id=CONSENTED)]})
    erasure = {"erasures": [{"id": "shop1:1:1", "customer_id": CONSENTED, "requested_at": time.time()}]}
    assert call(central, "POST", "/v1/erasures", erasure)[1] == {"accepted": ["shop1:1:1"], "held": []}
    assert call(central, "POST", "/v1/erasures", erasure)[1] == {"accepted": ["shop1:1:1"], "held": []}
    other = {"erasures": [{"id": "shop2:9:1", "customer_id": CONSENTED, "requested_at": time.time()}]}
    assert call(central, "POST", "/v1/erasures", other, token=OTHER_TOKEN)[0] == 200
    assert central.event_ids() == []
    _, page = call(central, "GET", "/v1/changes?since=0&site=shop1")
    mine = [c for c in page["changes"] if c["customer_id"] == CONSENTED]
    assert mine == [{"seq": mine[0]["seq"], "type": "erasure", "customer_id": CONSENTED,
                     "changed_at": mine[0]["changed_at"], "origin_site": "shop1"}]
    _, result = call(central, "POST", "/v1/events:batch", {"events": [event("y", customer_id=CONSENTED)]})
    assert result["rejected"] == [{"id": "y", "reason": "customer_erased"}]


def test_seed_endpoint_and_file(central: Central, tmp_path: Path) -> None:
    seed = {"customers": [{"customer_id": "app:1", "profile": {"tier": "new"},
                           "consents": [{"purpose": "marketing", "status": "denied", "changed_at": 5}]}]}
    assert central.admin("POST", "/v1/admin/seed", seed) == {"customers": 1}
    _, page = call(central, "GET", "/v1/changes?since=3&site=shop1")
    assert [(c["type"], c["customer_id"]) for c in page["changes"]] == [("profile", "app:1"), ("consent", "app:1")]
    assert len(load_seed(DEMO_SEED).customers) >= 3
    bad = tmp_path / "bad.json"
    bad.write_text('{"customers": [{"customer_id": "x", "consents": [{"purpose": "service", "status": "maybe"}]}]}')
    with pytest.raises(SeedError, match="status"):
        load_seed(bad)


def test_openapi_documents_every_route() -> None:
    document = yaml.safe_load((Path(__file__).parents[2] / "profile_service" / "openapi.yaml").read_text())
    app = create_app(ServiceSettings())
    routes = {(r.method.lower(), r.resource.canonical) for r in app.router.routes() if r.method != "HEAD"}
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
    assert routes == documented


async def test_a_busy_worker_says_so_at_once_and_loses_nothing(tmp_path: Path) -> None:
    import asyncio

    import aiohttp

    from profile_service.launch import running_profile_service

    settings = ServiceSettings(port=0, db_path=tmp_path / "central.db", site_tokens={SITE: SITE_TOKEN}, max_concurrent_batches=1)
    batches = [{"events": [event(f"b{b}-{i}") for i in range(300)]} for b in range(12)]
    async with running_profile_service(settings) as url, aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {SITE_TOKEN}"}
    ) as session:

        async def post(batch: dict[str, Any]) -> tuple[int, str | None]:
            async with session.post(url + "/v1/events:batch", json=batch) as response:
                await response.read()
                return response.status, response.headers.get("Retry-After")

        answers = await asyncio.gather(*(post(b) for b in batches))
        assert {status for status, _ in answers} == {200, 503}
        assert all(1 <= int(pause) <= 3 for status, pause in answers if status == 503 and pause is not None)
        assert all(pause is not None for status, pause in answers if status == 503)
        for batch, (status, _) in zip(batches, answers, strict=True):
            if status == 503:  # the gateway's retry, one at a time
                assert (await post(batch))[0] == 200
        async with session.get(url + "/v1/changes?since=0") as response:
            assert response.status == 200
    conn = sqlite3.connect(tmp_path / "central.db")
    assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM events").fetchone() == (3600, 3600)
    conn.close()
