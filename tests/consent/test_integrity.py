"""Consent ledger integrity against the real gateway, Mosquitto and SQLite: a grant dated in the
future cannot pin itself over the customer's later revocation; when in doubt the more protective
status wins; consents and erasures come only from configured touchpoint sites and for customers
the shop knows; every refused message is dead-lettered and audited."""

from __future__ import annotations

import json
import time
from pathlib import Path

from gateway.consent.ledger import CLOCK_SKEW_S, supersession
from gateway.consent.model import ConsentChange, ConsentRecord, ConsentSource, ConsentStatus
from tests.consent.support import CARD_TOPIC, consent_inbox, rows
from tests.consent.test_gateway import consent_settings, consents, publish
from tests.support.gateway import running_gateway, wait_until
from tests.support.mosquitto import Mosquitto

ANNA = "card:94D8FC5F"
TAP = json.dumps({"Time": "2026-11-28T10:02:44", "PN532": {"UID": "94D8FC5F", "DATA": ""}})


def _consent(site: str, status: str, **extra: object) -> tuple[str, str]:
    return f"touchgate/{site}/consent", json.dumps({"customer_id": ANNA, "purposes": ["marketing"], "status": status, **extra})


def _record(status: str, at: float, source: ConsentSource = ConsentSource.TOUCHPOINT) -> ConsentRecord:
    return ConsentRecord(customer_id=ANNA, purpose="marketing", status=ConsentStatus(status), changed_at=at, source=source)


def test_more_protective_wins_when_in_doubt() -> None:
    now = 10_000.0
    assert supersession(_record("granted", 100), _record("revoked", 100), now) == "stale"  # a tie: revoked stays
    assert supersession(_record("revoked", 100), _record("granted", 100), now) is None  # a tie: revoked wins
    assert supersession(_record("revoked", 90), _record("granted", 100), now) == "stale"  # clear order: last wins
    future_grant = _record("granted", now + CLOCK_SKEW_S + 1, ConsentSource.CENTRAL)
    assert supersession(_record("revoked", now), future_grant, now) is None  # a grant from the future is in doubt
    assert supersession(_record("granted", now), _record("revoked", now + CLOCK_SKEW_S + 1), now) == "stale"


async def test_a_future_dated_grant_never_drops_the_later_revocation(broker: Mosquitto, tmp_path: Path) -> None:
    settings = consent_settings(broker, tmp_path)
    async with running_gateway(settings) as runtime:
        service = consents(runtime)
        inbox = consent_inbox(runtime)
        await publish(broker, [(CARD_TOPIC, TAP)])
        await wait_until(lambda: service.ledger.recently_seen(ANNA, time.time()))
        # Why 5: a grant dated 4 minutes ahead (within the old 5-minute allowance), then her revocation now.
        before = inbox.handled
        await publish(broker, [_consent("kiosk1", "granted", at=time.time() + 240)])
        await wait_until(lambda: inbox.handled > before)
        held = service.ledger.record(ANNA, "marketing")
        assert held is not None and held.changed_at <= time.time()  # clamped to its arrival
        await publish(broker, [_consent("kiosk1", "revoked")])
        await wait_until(lambda: inbox.handled > before + 1)
        assert not service.allows(ANNA, "marketing")
        assert rows(settings.store.path, "SELECT status FROM consents WHERE customer_id = ? AND purpose = 'marketing'", (ANNA,)) == [("revoked",)]

        # A central grant stamped far in the future (a skewed clock upstream), then a revocation at the touchpoint.
        await service.apply_changes(
            [ConsentChange(customer_id=ANNA, purpose="analytics", status=ConsentStatus.GRANTED, changed_at=time.time() + 3600)]
        )
        assert service.allows(ANNA, "analytics")
        await publish(broker, [(f"touchgate/kiosk1/consent", json.dumps({"customer_id": ANNA, "purposes": ["analytics"], "status": "revoked"}))])
        await wait_until(lambda: not service.allows(ANNA, "analytics"))

        # An old decision (a button that was offline) older than the held one: dead-lettered and audited.
        rejected = inbox.rejected
        letters = rows(settings.store.path, "SELECT COUNT(*) FROM dead_letters WHERE reason = 'stale_consent'")[0][0]
        await publish(broker, [_consent("kiosk1", "granted", at=time.time() - 3600)])
        await wait_until(
            lambda: rows(settings.store.path, "SELECT COUNT(*) FROM dead_letters WHERE reason = 'stale_consent'")[0][0] > letters
        )
        assert inbox.rejected == rejected  # applied where it could be; the rest is kept as a dead letter
        assert not service.allows(ANNA, "marketing")
        skipped = [json.loads(d) for (d,) in rows(settings.store.path, "SELECT detail FROM audit WHERE kind = 'consent.skipped'")]
        assert any(d["reason"] == "stale" and d["status"] == "granted" for d in skipped)
        assert all(ANNA not in json.dumps(d) for d in skipped)


async def test_consents_and_erasures_only_from_configured_sites_and_for_known_customers(broker: Mosquitto, tmp_path: Path) -> None:
    settings = consent_settings(broker, tmp_path, touchpoint_sites=["kiosk1"])
    db = settings.store.path
    async with running_gateway(settings) as runtime:
        service = consents(runtime)
        inbox = consent_inbox(runtime)
        await publish(broker, [(CARD_TOPIC, TAP)])
        await wait_until(lambda: service.ledger.recently_seen(ANNA, time.time()))
        await publish(broker, [_consent("kiosk1", "granted")])
        await wait_until(lambda: service.allows(ANNA, "marketing"))

        # From a site that is not a touchpoint here (or does not exist): refused, dead-lettered, audited.
        await publish(broker, [_consent("nowhere", "revoked"), ("touchgate/nowhere/erasure", json.dumps({"customer_id": ANNA}))])
        await wait_until(lambda: rows(db, "SELECT COUNT(*) FROM dead_letters WHERE reason = 'unknown_site'")[0][0] == 2)
        assert service.allows(ANNA, "marketing")
        assert rows(db, "SELECT COUNT(*) FROM erasures")[0][0] == 0

        # An erasure from a real touchpoint for a customer the shop never saw: nothing erased, nothing sent upstream.
        stranger = "card:DEADBEEF"
        await publish(broker, [("touchgate/kiosk1/erasure", json.dumps({"customer_id": stranger}))])
        await wait_until(lambda: rows(db, "SELECT COUNT(*) FROM dead_letters WHERE reason = 'unknown_customer'")[0][0] == 1)
        assert rows(db, "SELECT COUNT(*) FROM erasures_outbox")[0][0] == 0

        refused = [json.loads(d) for (d,) in rows(db, "SELECT detail FROM audit WHERE kind = 'consent.refused' ORDER BY seq")]
        assert [(r["message"], r["site"], r["reason"]) for r in refused] == [
            ("consent", "nowhere", "unknown_site"), ("erasure", "nowhere", "unknown_site"), ("erasure", "kiosk1", "unknown_customer")]
        assert refused[2]["customer"] == service.pseudonymise(stranger)
        assert all(stranger not in json.dumps(r) and ANNA not in json.dumps(r) for r in refused)

        # Her own erasure from the configured touchpoint goes through.
        await publish(broker, [("touchgate/kiosk1/erasure", json.dumps({"customer_id": ANNA}))])
        await wait_until(lambda: rows(db, "SELECT COUNT(*) FROM erasures_outbox")[0][0] == 1)
        assert not service.allows(ANNA, "marketing")


async def test_an_erasure_must_name_this_gateways_site(broker: Mosquitto, tmp_path: Path) -> None:
    """Without a touchpoint list, consents come from any site, but an erasure (irreversible, sent
    upstream to the chain) only from the gateway's own site: another shop's site name is refused."""
    settings = consent_settings(broker, tmp_path)
    db = settings.store.path
    assert settings.site_id == "shop1" and settings.privacy.touchpoint_sites is None
    async with running_gateway(settings) as runtime:
        service = consents(runtime)
        await publish(broker, [(CARD_TOPIC, TAP)])
        await wait_until(lambda: service.ledger.recently_seen(ANNA, time.time()))
        await publish(broker, [("touchgate/shop2/erasure", json.dumps({"customer_id": ANNA}))])
        await wait_until(lambda: rows(db, "SELECT COUNT(*) FROM dead_letters WHERE reason = 'unknown_site'")[0][0] == 1)
        assert rows(db, "SELECT COUNT(*) FROM erasures")[0][0] == 0
        assert rows(db, "SELECT COUNT(*) FROM erasures_outbox")[0][0] == 0
        (detail,) = rows(db, "SELECT detail FROM audit WHERE kind = 'consent.refused'")[0]
        assert {k: json.loads(detail)[k] for k in ("message", "site", "reason")} == {"message": "erasure", "site": "shop2", "reason": "unknown_site"}
        await publish(broker, [("touchgate/shop1/erasure", json.dumps({"customer_id": ANNA}))])
        await wait_until(lambda: rows(db, "SELECT COUNT(*) FROM erasures_outbox")[0][0] == 1)
