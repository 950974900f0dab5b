"""The changes feed reaches the consent gate and the profiles, its cursor survives restarts;
consent is re-checked at send time; erasures go upstream (retried like events) and come down."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from gateway.consent.model import ConsentRecord, ConsentSource, ConsentStatus
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto
from tests.sync.conftest import CONSENTED, OTHER_SITE, OTHER_TOKEN, UNCONSENTED, Central, local_rows, sync_config, sync_parts
from tests.sync.faulty_proxy import Fault, FaultyProxy
from tests.sync.shop import card_tap, outbox_count, publish


def state(db: Path, key: str) -> str | None:
    rows = local_rows(db, "SELECT value FROM state WHERE key = ?", (key,))
    return rows[0][0] if rows else None


def profile(db: Path, customer_id: str) -> dict[str, object] | None:
    rows = local_rows(db, "SELECT attributes FROM profiles WHERE customer_id = ?", (customer_id,))
    return json.loads(rows[0][0]) if rows else None


async def test_changes_feed_applied_and_cursor_persisted(broker: Mosquitto, central: Central, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path, sync=sync_config(central.url))
    db = settings.store.path
    last_seq = central.query("SELECT MAX(seq) FROM changes")[0][0]
    async with running_gateway(settings) as runtime:
        consents = runtime.service("consent")
        assert consents is not None
        await wait_until(lambda: state(db, "sync.changes_cursor") == str(last_seq))
        assert consents.allows(CONSENTED, "service") and not consents.allows(UNCONSENTED, "service")
        assert profile(db, CONSENTED) == {"tier": "gold"}
        # Central changes: a new attribute, then a revocation.
        central.admin("PUT", f"/v1/admin/customers/{CONSENTED}/profile", {"visits": 3})
        central.admin(
            "PUT", f"/v1/admin/customers/{CONSENTED}/consent",
            {"purpose": "service", "status": "revoked", "changed_at": time.time()},
        )
        await wait_until(lambda: not consents.allows(CONSENTED, "service"), timeout=10)
        await wait_until(lambda: profile(db, CONSENTED) == {"tier": "gold", "visits": 3})
        # The cursor is saved after the page's changes are applied: wait for it too.
        await wait_until(lambda: state(db, "sync.changes_cursor") == str(last_seq + 2))
        cursor = state(db, "sync.changes_cursor")
        applied = state(db, "sync.count.changes_applied")
    assert cursor == str(last_seq + 2)
    # Restart: the feed resumes at the cursor, nothing is applied twice.
    async with running_gateway(settings) as runtime:
        sync = sync_parts(runtime)
        await wait_until(lambda: sync.puller.pages >= 2)
        assert state(db, "sync.changes_cursor") == cursor
        assert state(db, "sync.count.changes_applied") == applied


async def test_consent_rechecked_at_send_time(
    broker: Mosquitto, central: Central, proxy: FaultyProxy, tmp_path: Path
) -> None:
    """Queued while consented; the consent is gone by the time the service is reachable again:
    purged, counted, never sent."""
    settings = gateway_settings(broker, tmp_path, sync=sync_config(proxy.url))
    db = settings.store.path
    async with running_gateway(settings) as runtime:
        consents = runtime.service("consent")
        assert consents is not None
        await wait_until(lambda: consents.allows(CONSENTED, "service"))
        await proxy.set_fault(Fault.DOWN)
        await asyncio.to_thread(publish, broker.host, broker.port, [card_tap(CONSENTED, i) for i in range(5)])
        await wait_until(lambda: outbox_count(db) == 5)
        # Revoked in the ledger (memory first, as the consent part does for a narrowing change).
        consents.ledger.put(
            ConsentRecord(
                customer_id=CONSENTED, purpose="service", status=ConsentStatus.REVOKED,
                changed_at=time.time(), source=ConsentSource.TOUCHPOINT,
            )
        )
        await proxy.set_fault(Fault.NONE)
        await wait_until(lambda: outbox_count(db) == 0, timeout=10)
    assert state(db, "sync.count.purged_consent") == "5"
    assert central.query("SELECT COUNT(*) FROM events WHERE customer_id = ?", (CONSENTED,))[0][0] == 0


async def test_erasure_delivered_with_retries(
    broker: Mosquitto, central: Central, proxy: FaultyProxy, tmp_path: Path
) -> None:
    settings = gateway_settings(broker, tmp_path, sync=sync_config(proxy.url))
    db = settings.store.path
    async with running_gateway(settings) as runtime:
        consents = runtime.service("consent")
        assert consents is not None
        await wait_until(lambda: consents.allows(CONSENTED, "service"))
        await asyncio.to_thread(publish, broker.host, broker.port, [card_tap(CONSENTED, i) for i in range(4)])
        await wait_until(lambda: len(central.event_ids()) == 4, timeout=10)
        proxy.all_paths = True
        await proxy.set_fault(Fault.ERROR_500, count=2)
        await consents.forget(CONSENTED, ConsentSource.TOUCHPOINT)
        sync_parts(runtime).erasures.wake()
        await wait_until(lambda: local_rows(db, "SELECT COUNT(*) FROM erasures_outbox")[0][0] == 0, timeout=15)
        assert proxy.hits["500"] == 2
    assert central.query("SELECT COUNT(*) FROM events WHERE customer_id = ?", (CONSENTED,))[0][0] == 0
    assert central.query("SELECT COUNT(*) FROM erased WHERE customer_id = ?", (CONSENTED,))[0][0] == 1
    assert state(db, "sync.count.erasures_sent") == "1"


async def test_erasure_from_another_site_is_applied_here(broker: Mosquitto, central: Central, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path, sync=sync_config(central.url))
    db = settings.store.path
    async with running_gateway(settings) as runtime:
        consents = runtime.service("consent")
        assert consents is not None
        await wait_until(lambda: consents.allows(CONSENTED, "service"))
        assert profile(db, CONSENTED) is not None
        # She visits shop2 (its event names her), then asks shop2 to forget her.
        central.admin(
            "POST", "/v1/events:batch",
            {"events": [{"id": "v1", "received_at": time.time(), "site": OTHER_SITE, "device": "till", "kind": "identify",
                         "purpose": "service", "customer_id": CONSENTED}]},
            token=OTHER_TOKEN,
        )
        central.admin(
            "POST", "/v1/erasures",
            {"erasures": [{"id": "shop2:1:1", "customer_id": CONSENTED, "requested_at": time.time()}]},
            token=OTHER_TOKEN,
        )
        await wait_until(lambda: profile(db, CONSENTED) is None, timeout=10)
        assert not consents.allows(CONSENTED, "service")
        assert consents.ledger.was_erased(CONSENTED) is not None
