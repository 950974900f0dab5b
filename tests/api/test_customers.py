"""Export and erasure of one customer through the API, and what the log says about it."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.consent.model import ConsentRecord, ConsentSource, ConsentStatus
from gateway.logs import JsonLineFormatter
from tests.api.conftest import ApiHarness, started_api
from tests.support.mosquitto import Mosquitto

CARD_TOPIC = "tele/cardreader_kiosk1/SENSOR"
CUSTOMER = "card:94D8FC5F"


def card_tap(uid: str = "94D8FC5F") -> str:
    return json.dumps({"Time": "2026-11-28T10:02:44", "PN532": {"UID": uid, "DATA": ""}})


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The gateway's real JSON formatter on the root logger, into a buffer. Request it before
    `api`: as in production, logging is set up before the parts are built (the consent part's
    key is installed into the handlers that exist then)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


async def grant(api: ApiHarness, customer_id: str, purpose: str = "service") -> None:
    consents = api.runtime.service("consent")
    assert consents is not None
    record = ConsentRecord(
        customer_id=customer_id,
        purpose=purpose,
        status=ConsentStatus.GRANTED,
        changed_at=time.time(),
        source=ConsentSource.OPERATOR,
    )
    await consents.apply_records([record])


async def test_export_then_erase_through_the_api(json_log: io.StringIO, api: ApiHarness) -> None:
    await grant(api, CUSTOMER)
    await api.publish([(CARD_TOPIC, card_tap()), (CARD_TOPIC, card_tap()), (CARD_TOPIC, card_tap("00000001"))])
    assert api.db_scalar("SELECT count(*) FROM events WHERE customer_id = ?", (CUSTOMER,)) == 2
    assert api.db_scalar("SELECT count(*) FROM outbox WHERE customer_id = ?", (CUSTOMER,)) == 2

    exported = await api.get_json(f"/api/customers/{CUSTOMER}")
    assert exported["customer_id"] == CUSTOMER
    tables = exported["data"]["tables"]
    assert len(tables["events"]) == 2 and len(tables["outbox"]) == 2
    assert [c["purpose"] for c in tables["consents"]] == ["service"]
    pseudonym = exported["data"]["pseudonym"]

    async with api.http.delete(api.url + f"/api/customers/{CUSTOMER}") as response:
        report = await response.json()
        assert response.status == 200, report
    assert report["customer_id"] == CUSTOMER and report["upstream_queued"] is True
    assert report["deleted"]["events"] == 2 and report["deleted"]["outbox"] == 2 and report["deleted"]["consents"] == 1
    assert report["pseudonym"] == pseudonym
    for table in ("events", "outbox", "consents", "profiles"):
        assert api.db_scalar(f"SELECT count(*) FROM {table} WHERE customer_id = ?", (CUSTOMER,)) == 0
    # The other customer's (unconsented, so anonymised) event is still there.
    assert api.db_scalar("SELECT count(*) FROM events") == 1
    assert api.db_scalar("SELECT count(*) FROM erasures_outbox WHERE customer_id = ?", (CUSTOMER,)) == 1
    assert api.db_scalar("SELECT count(*) FROM audit WHERE kind = 'erasure' AND detail LIKE ?", (f"%{pseudonym}%",)) == 1

    after = await api.get_json(f"/api/customers/{CUSTOMER}")
    assert all(rows == [] for rows in after["data"]["tables"].values())

    text = json_log.getvalue()
    assert CUSTOMER not in text and "94D8FC5F" not in text, "a customer id reached the log in clear"
    lines = [json.loads(line) for line in text.splitlines()]
    erase_lines = [line for line in lines if line.get("event") == "customer_erase"]
    assert len(erase_lines) == 1 and erase_lines[0]["customer"] == pseudonym
    access = [line for line in lines if line.get("event") == "http_request" and line["method"] == "DELETE"]
    assert access and access[0]["route"] == "/api/customers/{customer_id}" and access[0]["status"] == 200


async def test_erasure_needs_the_token_even_with_the_page_cookie(api: ApiHarness) -> None:
    await grant(api, CUSTOMER)
    await api.publish([(CARD_TOPIC, card_tap())])
    async with api.anon.post(api.url + "/login", data={"token": "test-token-5f1c2a9e8b7d4c3a"}, allow_redirects=False) as r:
        assert r.status == 303
    # The cookie now in the anonymous session reads, but does not erase (no CSRF through it).
    assert (await (await api.anon.get(api.url + "/api/status")).json())["events"]["total"] == 1
    async with api.anon.delete(api.url + f"/api/customers/{CUSTOMER}") as response:
        assert response.status == 401
    assert api.db_scalar("SELECT count(*) FROM events WHERE customer_id = ?", (CUSTOMER,)) == 1


async def test_without_the_consent_part_export_and_erasure_answer_503(broker: Mosquitto, tmp_path: Path) -> None:
    async with started_api(broker, tmp_path) as api:
        # A gateway built without the consent part has no customer service: simulate by asking a
        # second app over the same runtime with the services it would then have.
        from aiohttp.test_utils import TestServer

        from gateway.api.auth import Authenticator
        from gateway.api.context import ApiContext
        from gateway.api.reader import StoreReader
        from gateway.api.server import make_app
        from gateway.api.services import OperatorServices

        rt = api.runtime
        ctx = ApiContext(
            site="shop1", broker_host="127.0.0.1", broker_port=1, settings=rt.settings.api, store=rt.store,
            mqtt=rt.mqtt, reader=StoreReader(rt.settings.store.path), metrics=rt.metrics, ready=rt.ready, services=OperatorServices(),
            auth=Authenticator("test-token-5f1c2a9e8b7d4c3a"),
        )
        async with TestServer(make_app(ctx), host="127.0.0.1") as server:
            for method in ("GET", "DELETE"):
                async with api.http.request(method, str(server.make_url(f"/api/customers/{CUSTOMER}"))) as response:
                    body = await response.json()
                    assert response.status == 503
                    assert body["error"] == "service_unavailable" and "consent" in body["detail"]
