"""Fault injection between the gateway and the real reference service. After each fault clears,
the central store holds every consented (and anonymous) event exactly once and nothing unconsented."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.app import Gateway
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto
from tests.sync.conftest import CONSENTED, Central, local_rows, sync_config, sync_parts
from tests.sync.faulty_proxy import Fault, FaultyProxy
from tests.sync.shop import expected_central_ids, outbox_count, publish, shop_traffic, unconsented_local_ids

ANONYMOUS, PERSONAL_OK, PERSONAL_NO = 240, 40, 20


async def consent_pulled(runtime: Gateway) -> None:
    consents = runtime.service("consent")
    assert consents is not None
    await wait_until(lambda: consents.allows(CONSENTED, "service"), timeout=10)


def assert_exactly_once(central: Central, gateway_db: Path) -> None:
    expected = expected_central_ids(gateway_db)
    assert len(expected) == ANONYMOUS + PERSONAL_OK
    ids = central.event_ids()
    assert len(ids) == len(set(ids))
    assert set(ids) == expected
    assert not set(ids) & unconsented_local_ids(gateway_db)
    assert central.query("SELECT COUNT(*) FROM events WHERE customer_id = 'card:DEADBEEF'")[0][0] == 0
    assert central.query("SELECT COUNT(*) FROM events WHERE customer_id = ?", (CONSENTED,))[0][0] == PERSONAL_OK


FAULTS = [
    pytest.param(Fault.DOWN, id="service-down"),
    pytest.param(Fault.ERROR_500, id="500s"),
    pytest.param(Fault.TOO_MANY, id="429-retry-after"),
    pytest.param(Fault.SLOW, id="slow-past-timeout"),
    pytest.param(Fault.RESET_AFTER_COMMIT, id="reset-after-commit"),
    pytest.param(Fault.RESET_MID_REQUEST, id="reset-mid-request"),
    pytest.param(Fault.PARTIAL, id="partial-acceptance"),
]


@pytest.mark.parametrize("fault", FAULTS)
async def test_fault_then_recovery_exactly_once(
    fault: Fault, broker: Mosquitto, central: Central, proxy: FaultyProxy, tmp_path: Path
) -> None:
    proxy.retry_after = 1
    proxy.delay_s = 2.5  # past the gateway's 1 s request timeout
    settings = gateway_settings(broker, tmp_path, sync=sync_config(proxy.url, request_timeout_s=1.0))
    db = settings.store.path
    async with running_gateway(settings) as runtime:
        await consent_pulled(runtime)
        await proxy.set_fault(fault, count=None if fault in (Fault.DOWN, Fault.PARTIAL) else 4)
        await asyncio.to_thread(publish, broker.host, broker.port, shop_traffic(ANONYMOUS, PERSONAL_OK, PERSONAL_NO))
        await wait_until(lambda: runtime.ingest.counters.stored >= ANONYMOUS + PERSONAL_OK + PERSONAL_NO, timeout=20)
        if fault is Fault.DOWN:
            # The gateway keeps trying against a closed port: "sending" during an attempt,
            # "backoff" after it. Waited for: read once, it can be mid-attempt.
            status = sync_parts(runtime).sender.status
            await wait_until(lambda: status.state == "backoff" and status.last_error is not None, timeout=10)
            assert outbox_count(db) == ANONYMOUS + PERSONAL_OK
        await wait_until(lambda: proxy.hits[fault.value] >= (1 if fault is not Fault.DOWN else 0), timeout=15)
        if fault is Fault.PARTIAL:
            await asyncio.sleep(0.5)
        await proxy.set_fault(Fault.NONE)
        await wait_until(lambda: outbox_count(db) == 0, timeout=30)
    assert_exactly_once(central, db)
    stats = central.stats()
    if fault in (Fault.RESET_AFTER_COMMIT, Fault.SLOW, Fault.PARTIAL):
        # The service stored those batches but the gateway never heard: they came again, stored once.
        assert stats.get("events_redelivered", 0) > 0
    assert stats["events_stored"] == ANONYMOUS + PERSONAL_OK
    assert local_rows(db, "SELECT COUNT(*) FROM dead_letters")[0][0] == 0


async def test_retry_after_is_honoured(broker: Mosquitto, central: Central, proxy: FaultyProxy, tmp_path: Path) -> None:
    """A 429 with Retry-After: 2 keeps the gateway away for about 2 s, though its own backoff
    would have come back after 0.05 s."""
    proxy.retry_after = 2
    settings = gateway_settings(broker, tmp_path, sync=sync_config(proxy.url))
    async with running_gateway(settings) as runtime:
        await proxy.set_fault(Fault.TOO_MANY, count=1)
        await asyncio.to_thread(publish, broker.host, broker.port, shop_traffic(10, 0, 0))
        await wait_until(lambda: proxy.hits["429"] == 1, timeout=10)
        await wait_until(lambda: outbox_count(settings.store.path) == 0, timeout=10)
        assert sync_parts(runtime).sender.status.last_error == "HTTP 429"
    batches = [(at, fault) for at, path, fault in proxy.requests if path.startswith("/v1/events:batch")]
    refused = [at for at, fault in batches if fault == "429"]
    retried = [at for at, fault in batches if fault == "none" and at > refused[0]]
    waited = retried[0] - refused[0]
    assert waited >= 1.5
    assert len(central.event_ids()) == 10
