"""The pure parts: ledger, gate, keyed hash, audit chain, settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.consent.chain import GENESIS, AuditRow, canonical_detail, entry_hash, verify_chain
from gateway.consent.gate import LedgerGate
from gateway.consent.ledger import ConsentLedger, Outcome
from gateway.consent.model import ConsentRecord, ConsentSource, ConsentStatus
from gateway.consent.pseudonym import Pseudonymiser, pseudonymise
from gateway.consent.settings import PrivacySettings
from gateway.model.event import Event
from gateway.model.gate import GateClass

KEY = b"k" * 32


def record(status: str, at: float, purpose: str = "marketing", expires_at: float | None = None,
           source: ConsentSource = ConsentSource.TOUCHPOINT, customer: str = "card:1") -> ConsentRecord:
    return ConsentRecord(customer_id=customer, purpose=purpose, status=ConsentStatus(status), changed_at=at,
                         source=source, expires_at=expires_at)


def event(customer: str | None, purpose: str = "marketing", at: float = 100.0, **attributes: object) -> Event:
    return Event(received_at=at, site="s", device="d", kind="app", purpose=purpose, customer_id=customer,
                 attributes=attributes)  # type: ignore[arg-type]


def test_pseudonym_is_keyed_and_stable() -> None:
    one = Pseudonymiser(KEY)
    assert one("card:1") == one("card:1") == pseudonymise(KEY, "card:1")
    assert one("card:1") != one("card:2")
    assert Pseudonymiser(b"x" * 32)("card:1") != one("card:1")
    assert "card" not in one("card:1") and "1" not in repr(one).replace("Pseudonymiser", "")
    with pytest.raises(ValueError):
        Pseudonymiser(b"short")


def test_ledger_expiry_and_last_decision_wins() -> None:
    ledger = ConsentLedger(Pseudonymiser(KEY), identify_window_s=60)
    ledger.put(record("granted", 10, expires_at=50))
    assert ledger.allows("card:1", "marketing", 49.9)
    assert not ledger.allows("card:1", "marketing", 50)
    assert not ledger.allows("card:1", "analytics", 20)
    assert ledger.plan(record("revoked", 5), 0.0).outcome is Outcome.STALE
    assert ledger.plan(record("granted", 10, expires_at=50), 0.0).outcome is Outcome.UNCHANGED  # a replay
    # The same decision taken again later moves its time: a revocation between the two arrives stale.
    assert ledger.plan(record("granted", 11, expires_at=50), 0.0).outcome is Outcome.APPLY
    plan = ledger.plan(record("revoked", 12), 0.0)
    assert plan.outcome is Outcome.APPLY and plan.narrows
    assert not ledger.plan(record("granted", 12, expires_at=60), 0.0).narrows  # longer expiry widens
    assert ledger.plan(record("granted", 12, expires_at=40), 0.0).narrows
    assert ledger.due_expiries(50) == [ledger.record("card:1", "marketing")]
    assert ledger.next_expiry() == 50


def test_ledger_erasure_blocks_stale_central_changes_only() -> None:
    ledger = ConsentLedger(Pseudonymiser(KEY), identify_window_s=60)
    ledger.put(record("granted", 10))
    ledger.note_seen("card:1", 10)
    ledger.forget("card:1", erased_at=20)
    assert not ledger.allows("card:1", "marketing", 21)
    assert not ledger.recently_seen("card:1", 21)
    assert ledger.plan(record("granted", 15, source=ConsentSource.CENTRAL), 0.0).outcome is Outcome.ERASED
    assert ledger.plan(record("granted", 25, source=ConsentSource.CENTRAL), 0.0).outcome is Outcome.APPLY
    assert ledger.plan(record("granted", 15, source=ConsentSource.TOUCHPOINT), 0.0).outcome is Outcome.APPLY


def test_recently_seen_window() -> None:
    ledger = ConsentLedger(Pseudonymiser(KEY), identify_window_s=60)
    ledger.note_seen("card:1", 100)
    assert ledger.recently_seen("card:1", 160) and not ledger.recently_seen("card:1", 161)
    assert ledger.prune_seen(200) == 1 and ledger.seen_customers() == []


def test_gate_classes_and_policies() -> None:
    settings = PrivacySettings()  # marketing drops, the others keep stripped; transcript is sensitive
    ledger = ConsentLedger(Pseudonymiser(KEY), identify_window_s=60)
    gate = LedgerGate(ledger, settings)
    ledger.put(record("granted", 0, purpose="service"))

    anonymous = gate.decide(event(None))
    assert (anonymous.gate_class, anonymous.sync) == (GateClass.ANONYMOUS, True)

    consented = gate.decide(event("card:1", "service", seq=1))
    assert (consented.gate_class, consented.sync) == (GateClass.CONSENTED, True)
    assert consented.local is not None and consented.local.customer_id == "card:1"

    with_transcript = gate.decide(event("card:1", "service", transcript="hello"))
    assert (with_transcript.gate_class, with_transcript.sync) == (GateClass.CONSENTED, False)

    stripped = gate.decide(event("card:1", "analytics", transcript="hello", seq=2))
    assert (stripped.gate_class, stripped.sync) == (GateClass.UNCONSENTED, False)
    assert stripped.local is not None and stripped.local.customer_id is None
    assert stripped.local.attributes == {"seq": 2}

    dropped = gate.decide(event("card:1", "marketing"))
    assert (dropped.gate_class, dropped.local, dropped.sync) == (GateClass.UNCONSENTED, None, False)

    unknown_purpose = gate.decide(event("card:1", "profiling"))
    assert unknown_purpose.local is None and not unknown_purpose.sync

    assert gate.take_counts() == {
        "anonymous/marketing/synced": 1,
        "consented/service/local_only": 1,
        "consented/service/synced": 1,
        "unconsented/analytics/stripped": 1,
        "unconsented/marketing/dropped": 1,
        "unconsented/profiling/dropped": 1,
    }
    assert gate.take_counts() == {}
    assert ledger.recently_seen("card:1", 100)


def test_sends_sensitive_policy() -> None:
    settings = PrivacySettings(policies={"service": {"sends_sensitive": True}})
    ledger = ConsentLedger(Pseudonymiser(KEY), identify_window_s=60)
    ledger.put(record("granted", 0, purpose="service"))
    assert LedgerGate(ledger, settings).decide(event("card:1", "service", transcript="hi")).sync


def _chain(n: int) -> list[AuditRow]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        detail = canonical_detail({"n": seq})
        digest = entry_hash(prev, seq, float(seq), "k", detail)
        rows.append(AuditRow(seq, float(seq), "k", detail, prev, digest))
        prev = digest
    return rows


def test_chain_verifies_and_detects_tampering() -> None:
    rows = _chain(5)
    head = (5, rows[-1].hash)
    assert verify_chain(rows, head).ok
    altered = list(rows)
    altered[2] = AuditRow(3, 3.0, "k", canonical_detail({"n": 99}), rows[2].prev_hash, rows[2].hash)
    verdict = verify_chain(altered, head)
    assert not verdict.ok and verdict.bad_seq == 3 and "altered" in verdict.problem
    gap = rows[:2] + rows[3:]
    assert verify_chain(gap, head).bad_seq == 4
    truncated = verify_chain(rows[:4], head)
    assert not truncated.ok and "removed at the end" in truncated.problem
    assert not verify_chain(rows, None).ok
    assert verify_chain([], None).ok


def test_settings_durations_and_errors() -> None:
    settings = PrivacySettings(retention={"events": "2d", "dead_letters": 3600, "profiles": None})
    assert settings.retention.events == 2 * 86400 and settings.retention.profiles is None
    with pytest.raises(ValidationError):
        PrivacySettings(retention={"events": "two days"})
    with pytest.raises(ValidationError):
        PrivacySettings(policies={"marketing": {"unconsented": "sell"}})
    with pytest.raises(ValidationError, match="not in the purposes list"):
        PrivacySettings(purposes=["service"], policies={"marketing": {"unconsented": "drop"}})
    with pytest.raises(ValidationError):
        PrivacySettings(pseudonym_key="short")
