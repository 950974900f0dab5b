"""The consent part inside the real gateway, with a real Mosquitto and a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from gateway.app import Gateway
from gateway.cli import main as touchgate
from gateway.config.settings import PROJECT_ROOT, Settings
from gateway.consent.model import ConsentChange, ConsentSource, ConsentStatus
from gateway.consent.service import ConsentService
from tests.consent.support import CARD_TOPIC, app_message, consent_inbox, consent_message, rows, rows_mentioning, write_profiles
from tests.support.clients import Publisher
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto

SAMPLES = PROJECT_ROOT / "gateway" / "consent" / "samples" / "messages.yaml"


def consent_settings(broker: Mosquitto, tmp_path: Path, **privacy: Any) -> Settings:
    values = {"refresh_check_s": 0.1, "expiry_check_s": 0.1, **privacy}
    return gateway_settings(broker, tmp_path, device_profiles_dir=write_profiles(tmp_path / "profiles"), privacy=values)


def consents(runtime: Gateway) -> ConsentService:
    assert runtime.service("consent") is not None
    return runtime.service("consent")


async def publish(broker: Mosquitto, messages: Iterable[tuple[str, bytes | str]]) -> None:
    with Publisher(broker.host, broker.port, client_id=f"pub-{time.monotonic_ns()}") as pub:
        await asyncio.to_thread(pub.publish_all, list(messages))


async def settled(runtime: Gateway, decided: int) -> None:
    """Wait until `decided` events went through the gate and their batch is on disk."""
    await wait_until(lambda: sum(runtime.ingest.counters.by_gate_class.values()) >= decided)
    await runtime.store.call(lambda db: None)  # the store runs writes in order: this comes after


async def test_every_sample_message(broker: Mosquitto, tmp_path: Path) -> None:
    samples = yaml.safe_load(SAMPLES.read_text())
    settings = consent_settings(broker, tmp_path, touchpoint_sites=["kiosk1"])  # the samples' touchpoint
    db = settings.store.path
    async with running_gateway(settings) as runtime:
        service = consents(runtime)
        assert consent_inbox(runtime) is not None
        card = json.dumps({"Time": "2026-11-28T10:02:44", "PN532": {"UID": "94D8FC5F", "DATA": ""}})
        with Publisher(broker.host, broker.port, client_id="samples-pub") as pub:
            await asyncio.to_thread(pub.publish_all, [(CARD_TOPIC, card)])  # a card tap: now known here
            await settled(runtime, 1)
            for sample in samples:
                handled, letters = consent_inbox(runtime).handled, rows(db, "SELECT COUNT(*) FROM dead_letters")[0][0]
                await asyncio.to_thread(pub.publish_all, [(sample["topic"], sample["payload"])])
                if sample["expect"] == "applied":
                    await wait_until(lambda h=handled: consent_inbox(runtime).handled > h)  # type: ignore[misc]
                else:
                    await wait_until(lambda n=letters: rows(db, "SELECT COUNT(*) FROM dead_letters")[0][0] > n)  # type: ignore[misc]
                    reason, detail = rows(db, "SELECT reason, detail FROM dead_letters ORDER BY id DESC LIMIT 1")[0]
                    assert reason == sample["expect"], (sample["name"], detail)
                    assert "94D8FC5F" not in detail and "00000000" not in detail
                if sample["name"] == "consent button grants marketing and personalisation":
                    assert service.allows("card:94D8FC5F", "marketing") and service.allows("card:94D8FC5F", "personalisation")
                if sample["name"].startswith("revocation"):
                    assert not service.allows("card:94D8FC5F", "marketing")
    # The last sample erased the customer: nothing about them remains but the erasure to deliver.
    assert rows_mentioning(db, "94D8FC5F") == {"erasures_outbox": 1}
    kinds = [k for (k,) in rows(db, "SELECT kind FROM audit ORDER BY seq")]
    assert kinds.count("consent.change") == 5 and kinds.count("erasure") == 1


async def test_consent_grant_and_revocation_over_mqtt(broker: Mosquitto, tmp_path: Path) -> None:
    settings = consent_settings(broker, tmp_path)
    db = settings.store.path
    alice = "app:alice"
    async with running_gateway(settings) as runtime:
        # Before any consent: marketing (policy drop) is not stored; analytics is kept stripped.
        await publish(broker, [app_message("alice", "marketing", 1), app_message("alice", "analytics", 2)])
        await settled(runtime, 2)
        assert rows(db, "SELECT purpose, customer_id FROM events ORDER BY received_at") == [("analytics", None)]
        assert rows(db, "SELECT COUNT(*) FROM outbox") == [(0,)]

        await publish(broker, [consent_message(alice, ["marketing", "service"], "granted")])
        await wait_until(lambda: consents(runtime).allows(alice, "marketing"))
        await publish(broker, [app_message("alice", "marketing", 3), app_message("alice", "marketing", 4),
                               app_message("alice", "service", 5, transcript="where are the apples?")])
        await settled(runtime, 5)
        assert rows(db, "SELECT purpose, customer_id FROM outbox ORDER BY enqueued_at") == [("marketing", alice)] * 2
        # The service consent does not cover transcripts: kept here with the id, not queued.
        assert rows(db, "SELECT COUNT(*) FROM events WHERE customer_id = ? AND purpose = 'service'", (alice,)) == [(1,)]

        await publish(broker, [consent_message(alice, ["marketing"], "revoked")])
        await wait_until(lambda: not consents(runtime).allows(alice, "marketing"))
        await runtime.store.call(lambda db: None)
        assert rows(db, "SELECT COUNT(*) FROM outbox") == [(0,)]
        assert rows(db, "SELECT COUNT(*) FROM events WHERE purpose = 'marketing'") == [(0,)]
        audit = rows(db, "SELECT detail FROM audit WHERE kind = 'consent.change' ORDER BY seq")
        details = [json.loads(d) for (d,) in audit]
        assert [(d["purpose"], d["status"]) for d in details] == [
            ("marketing", "granted"), ("service", "granted"), ("marketing", "revoked")]
        assert details[-1]["purged_outbox"] == 2 and details[-1]["source"] == "touchpoint"
        assert all(alice not in d for (d,) in audit)


async def test_expiry_during_the_run_purges_the_queue(broker: Mosquitto, tmp_path: Path) -> None:
    settings = consent_settings(broker, tmp_path)
    db = settings.store.path
    bob = "app:bob"
    async with running_gateway(settings) as runtime:
        expires = time.time() + 3.0  # room for a loaded machine: the events must arrive before it
        change = ConsentChange(customer_id=bob, purpose="analytics", status=ConsentStatus.GRANTED,
                               changed_at=time.time(), expires_at=expires)
        await consents(runtime).apply_changes([change], ConsentSource.CENTRAL)
        await publish(broker, [app_message("bob", "analytics", i) for i in range(5)])
        await settled(runtime, 5)
        assert rows(db, "SELECT MAX(received_at) FROM events")[0][0] < expires
        assert rows(db, "SELECT COUNT(*) FROM outbox WHERE customer_id = ?", (bob,)) == [(5,)]
        await wait_until(lambda: rows(db, "SELECT status FROM consents WHERE customer_id = ?", (bob,)) == [("expired",)],
                         timeout=8)
        assert time.time() >= expires
        assert rows(db, "SELECT COUNT(*) FROM outbox") == [(0,)]
        assert rows(db, "SELECT COUNT(*) FROM events WHERE customer_id IS NULL AND purpose = 'analytics'") == [(5,)]
        await publish(broker, [app_message("bob", "analytics", 6)])
        await settled(runtime, 6)
        assert rows(db, "SELECT COUNT(*) FROM outbox") == [(0,)]
    expired = rows(db, "SELECT detail FROM audit WHERE kind = 'consent.expired'")
    assert len(expired) == 1 and json.loads(expired[0][0])["purged_outbox"] == 5


async def test_cli_forget_while_the_gateway_runs(broker: Mosquitto, tmp_path: Path) -> None:
    settings = consent_settings(broker, tmp_path)
    db = settings.store.path
    config = tmp_path / "touchgate.yaml"
    config.write_text(yaml.safe_dump({"store": {"path": str(db)}}))
    carol = "app:carol"
    async with running_gateway(settings) as runtime:
        change = ConsentChange(customer_id=carol, purpose="service", status=ConsentStatus.GRANTED, changed_at=time.time())
        await consents(runtime).apply_changes([change])
        await publish(broker, [app_message("carol", "service", i) for i in range(3)])
        await settled(runtime, 3)
        assert await asyncio.to_thread(touchgate, ["forget", carol, "--config", str(config)]) == 0
        # Until the gateway notices, it may still write about her; it then erases that too.
        await publish(broker, [app_message("carol", "service", 3)])
        await wait_until(lambda: not consents(runtime).allows(carol, "service"))
        await settled(runtime, 4)
        await runtime.store.call(lambda db: None)
        assert rows_mentioning(db, carol) == {"erasures_outbox": 1}
        await publish(broker, [app_message("carol", "service", 4)])
        await settled(runtime, 5)
        assert rows_mentioning(db, carol) == {"erasures_outbox": 1}


async def test_gate_decisions_are_audited_as_counts(broker: Mosquitto, tmp_path: Path) -> None:
    settings = consent_settings(broker, tmp_path, audit_interval_s=0.2)
    db = settings.store.path
    async with running_gateway(settings) as runtime:
        await consents(runtime).apply_changes(
            [ConsentChange(customer_id="app:dan", purpose="service", status=ConsentStatus.GRANTED, changed_at=time.time())])
        await publish(broker, [app_message("dan", "service", i) for i in range(7)]
                      + [app_message("erin", "marketing", i) for i in range(3)]
                      + [app_message(None, "analytics", i) for i in range(4)])
        await settled(runtime, 14)
        await asyncio.sleep(0.3)
        await publish(broker, [app_message("erin", "analytics", 9)])
        await settled(runtime, 15)
    totals: dict[str, int] = {}
    entries = rows(db, "SELECT detail FROM audit WHERE kind = 'gate.decisions' ORDER BY seq")
    assert len(entries) >= 2  # periodic, and the remainder at shutdown
    for (detail,) in entries:
        for key, count in json.loads(detail)["counts"].items():
            totals[key] = totals.get(key, 0) + count
    assert totals == {
        "consented/service/synced": 7,
        "unconsented/marketing/dropped": 3,
        "anonymous/analytics/synced": 4,
        "unconsented/analytics/stripped": 1,
    }
    assert touchgate(["audit", "verify", "--config", str(_config(tmp_path, db))]) == 0


def _config(tmp_path: Path, db: Path) -> Path:
    config = tmp_path / "verify.yaml"
    config.write_text(yaml.safe_dump({"store": {"path": str(db)}}))
    return config
