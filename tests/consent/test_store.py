"""Consent changes, erasure, export, audit and retention on a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
import sqlite_utils

from gateway.cli import main as touchgate
from gateway.consent.model import ConsentRecord, ConsentSource, ConsentStatus
from gateway.consent.pseudonym import Pseudonymiser
from gateway.consent.retention import enforce_retention
from gateway.consent.settings import PrivacySettings
from gateway.model.deadletter import DeadLetter, DeadLetterReason
from gateway.model.event import Event
from gateway.consent.audit_log import verify_audit
from gateway.consent.consent_rows import apply_consent_changes, load_consents
from gateway.store.database import Store, connect
from gateway.consent.erasure_rows import erase_customer, export_customer
from gateway.store.ingest_rows import IngestBatch, write_ingest_batch
from gateway.consent.key_row import load_or_create_pseudonym_key
from tests.consent.support import redacted_dead_letter, rows, rows_mentioning

ALICE, BOB = "card:A11CE", "card:B0B"
PRIVACY = PrivacySettings()


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return connect(tmp_path / "touchgate.db")


@pytest.fixture
def pseudonymise(db: sqlite_utils.Database) -> Pseudonymiser:
    return Pseudonymiser(load_or_create_pseudonym_key(db))


def ev(customer: str | None, purpose: str, at: float = 1000.0, **attributes: object) -> Event:
    return Event(received_at=at, site="shop1", device="app1", kind="app", purpose=purpose, customer_id=customer,
                 attributes=attributes)  # type: ignore[arg-type]


def grant(customer: str, purpose: str, at: float, status: str = "granted", source: ConsentSource = ConsentSource.CENTRAL,
          expires_at: float | None = None) -> ConsentRecord:
    return ConsentRecord(customer_id=customer, purpose=purpose, status=ConsentStatus(status), changed_at=at,
                         source=source, expires_at=expires_at)


def populate(db: sqlite_utils.Database) -> None:
    """Two customers with events (synced and not), a profile, consents and dead letters (kept as
    the gateway keeps them: the id pseudonymised, gateway/devices/redaction.py)."""
    pseudonymise = Pseudonymiser(load_or_create_pseudonym_key(db))
    batch = IngestBatch()
    for customer in (ALICE, BOB):
        for purpose in ("service", "analytics", "marketing"):
            for i in range(3):
                e = ev(customer, purpose, seq=i, transcript="hello")
                batch.events.append(e)
                batch.outbox.append(e)
    batch.events.append(ev(None, "analytics", seq=99))
    batch.dead_letters.append(redacted_dead_letter("touchgate/shop1/consent", json.dumps({"customer_id": ALICE}).encode(), pseudonymise))
    batch.dead_letters.append(DeadLetter(received_at=1000.0, topic="t", reason=DeadLetterReason.INVALID_JSON,
                                         detail="y", raw=b"{bad", raw_size=4))
    write_ingest_batch(db, batch)
    db["profiles"].insert_all([{"customer_id": c, "attributes": "{}", "updated_at": 1000.0} for c in (ALICE, BOB)])


def test_consent_changes_are_applied_audited_and_enforced(db: sqlite_utils.Database, pseudonymise: Pseudonymiser) -> None:
    populate(db)
    changes = [grant(ALICE, p, 900.0) for p in ("service", "analytics", "marketing")]
    result = apply_consent_changes(db, changes, pseudonymise=pseudonymise, privacy=PRIVACY, now=1000.0)
    assert result.applied == 3 and result.purged_outbox == 0
    # Revoking analytics (kept stripped) and marketing (dropped) for Alice.
    result = apply_consent_changes(
        db, [grant(ALICE, "analytics", 950.0, "revoked"), grant(ALICE, "marketing", 950.0, "revoked"),
             grant(ALICE, "service", 800.0, "revoked"),  # older than the grant: stale
             grant(ALICE, "profiling", 950.0)],  # not a purpose of this gateway
        pseudonymise=pseudonymise, privacy=PRIVACY, now=1000.0,
    )
    assert (result.applied, result.skipped, result.purged_outbox, result.events_changed) == (
        2, {"stale": 1, "unknown_purpose": 1}, 6, 6)
    path = Path(db.conn.execute("PRAGMA database_list").fetchone()[2])
    outbox = rows(path, "SELECT purpose, COUNT(*) FROM outbox WHERE customer_id = ? GROUP BY purpose", (ALICE,))
    assert outbox == [("service", 3)]
    assert rows(path, "SELECT COUNT(*) FROM events WHERE customer_id = ? AND purpose != 'service'", (ALICE,)) == [(0,)]
    stripped = rows(path, "SELECT attributes FROM events WHERE customer_id IS NULL AND purpose = 'analytics' AND device = 'app1'")
    assert len(stripped) == 3 + 1 and all("transcript" not in a for (a,) in stripped)
    assert rows(path, "SELECT COUNT(*) FROM events WHERE purpose = 'marketing' AND customer_id IS NULL") == [(0,)]
    assert rows(path, "SELECT COUNT(*) FROM outbox WHERE customer_id = ?", (BOB,)) == [(9,)]  # Bob untouched
    assert {(r.purpose, r.status) for r in load_consents(db)} == {
        ("service", ConsentStatus.GRANTED), ("analytics", ConsentStatus.REVOKED), ("marketing", ConsentStatus.REVOKED)}
    audit = rows(path, "SELECT kind, detail FROM audit ORDER BY seq")
    assert sorted(k for k, _ in audit) == ["consent.change"] * 5 + ["consent.skipped"] * 2
    skipped = sorted(json.loads(d)["reason"] for k, d in audit if k == "consent.skipped")
    assert skipped == ["stale", "unknown_purpose"]  # a decision not taken is audited too
    assert all(ALICE not in d and pseudonymise(ALICE) in d for _, d in audit)
    assert verify_audit(db).ok


def test_central_change_older_than_erasure_is_skipped(db: sqlite_utils.Database, pseudonymise: Pseudonymiser) -> None:
    erase_customer(db, ALICE, pseudonym=pseudonymise(ALICE), source=ConsentSource.OPERATOR, now=1000.0)
    stale = apply_consent_changes(db, [grant(ALICE, "marketing", 999.0)], pseudonymise=pseudonymise, privacy=PRIVACY, now=1001.0)
    assert stale.applied == 0 and stale.skipped == {"before_erasure": 1}
    fresh = apply_consent_changes(db, [grant(ALICE, "marketing", 1001.0)], pseudonymise=pseudonymise, privacy=PRIVACY, now=1002.0)
    assert fresh.applied == 1


def test_erasure_leaves_no_row_about_the_customer(db: sqlite_utils.Database, pseudonymise: Pseudonymiser, tmp_path: Path) -> None:
    populate(db)
    apply_consent_changes(db, [grant(c, "service", 900.0) for c in (ALICE, BOB)], pseudonymise=pseudonymise,
                          privacy=PRIVACY, now=1000.0)
    # A table another part may add later: found by its customer_id column.
    db.execute("CREATE TABLE voice_sessions (site TEXT, customer_id TEXT)")
    db["voice_sessions"].insert_all([{"site": "kiosk1", "customer_id": ALICE}, {"site": "kiosk2", "customer_id": BOB}])
    path = tmp_path / "touchgate.db"
    assert rows_mentioning(path, ALICE)

    result = erase_customer(db, ALICE, pseudonym=pseudonymise(ALICE), source=ConsentSource.OPERATOR, now=2000.0)

    assert {t: n for t, n in result.deleted.items() if n} == {"consents": 1, "dead_letters": 1, "events": 9, "outbox": 9, "profiles": 1, "voice_sessions": 1}
    # The only place the id remains is the queue of erasures to deliver to the central service.
    assert rows_mentioning(path, ALICE) == {"erasures_outbox": 1}
    assert rows(path, "SELECT erasure_id, customer_id FROM erasures_outbox") == [(result.erasure_id, ALICE)]
    assert rows(path, "SELECT pseudonym, source FROM erasures") == [(pseudonymise(ALICE), "operator")]
    assert rows_mentioning(path, BOB)["events"] == 9 and rows_mentioning(path, BOB)["voice_sessions"] == 1
    assert rows(path, "SELECT kind FROM audit ORDER BY seq DESC LIMIT 1") == [("erasure",)]
    assert verify_audit(db).ok


def test_export_holds_every_row_and_is_audited(db: sqlite_utils.Database, pseudonymise: Pseudonymiser) -> None:
    populate(db)
    apply_consent_changes(db, [grant(ALICE, "service", 900.0)], pseudonymise=pseudonymise, privacy=PRIVACY, now=1000.0)
    export = export_customer(db, ALICE, pseudonym=pseudonymise(ALICE), now=1100.0)
    assert {t: len(r) for t, r in export.tables.items() if r} == {
        "consents": 1, "dead_letters": 1, "events": 9, "outbox": 9, "profiles": 1}
    assert all(row["customer_id"] == ALICE for row in export.tables["events"])
    assert export.tables["events"][0]["attributes"]["transcript"] == "hello"  # JSON, not text
    assert json.loads(export.tables["dead_letters"][0]["raw"]) == {"customer_id": "<redacted>"}  # found by pseudonym
    assert [a["kind"] for a in export.audit] == ["consent.change"]
    last = db.conn.execute("SELECT kind, detail FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    assert last[0] == "export" and pseudonymise(ALICE) in last[1] and ALICE not in last[1]


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "touchgate.yaml"
    config.write_text("site_id: shop1\nstore:\n  path: touchgate.db\n")
    return config


def test_cli_forget_export_and_audit_verify(db: sqlite_utils.Database, pseudonymise: Pseudonymiser, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    populate(db)
    apply_consent_changes(db, [grant(ALICE, "service", 900.0)], pseudonymise=pseudonymise, privacy=PRIVACY, now=1000.0)
    config = _config(tmp_path)
    out = tmp_path / "alice.json"

    assert touchgate(["export", ALICE, "--out", str(out), "--config", str(config)]) == 0
    exported = json.loads(out.read_text())
    assert exported["customer_id"] == ALICE and len(exported["tables"]["events"]) == 9
    assert out.stat().st_mode & 0o077 == 0
    capsys.readouterr()

    assert touchgate(["forget", ALICE, "--config", str(config)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["erased"] == pseudonymise(ALICE) and printed["deleted"]["events"] == 9
    assert ALICE not in json.dumps(printed)
    assert rows_mentioning(tmp_path / "touchgate.db", ALICE) == {"erasures_outbox": 1}

    assert touchgate(["export", ALICE, "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)["tables"]["events"] == []

    assert touchgate(["audit", "verify", "--config", str(config)]) == 0
    assert "audit log OK: 4 entries" in capsys.readouterr().out


def test_audit_verify_fails_after_a_row_is_altered(db: sqlite_utils.Database, pseudonymise: Pseudonymiser, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    changes = [grant(ALICE, p, 900.0 + i) for i, p in enumerate(("service", "analytics", "marketing"))]
    apply_consent_changes(db, changes, pseudonymise=pseudonymise, privacy=PRIVACY, now=1000.0)
    config = _config(tmp_path)
    assert touchgate(["audit", "verify", "--config", str(config)]) == 0
    capsys.readouterr()

    conn = sqlite3.connect(tmp_path / "touchgate.db")
    original = conn.execute("SELECT detail FROM audit WHERE seq = 2").fetchone()[0]
    conn.execute("UPDATE audit SET detail = replace(detail, 'granted', 'denied') WHERE seq = 2")
    conn.commit()
    assert touchgate(["audit", "verify", "--config", str(config)]) == 1
    assert "entry 2: content does not match its hash" in capsys.readouterr().err

    conn.execute("UPDATE audit SET detail = ? WHERE seq = 2", (original,))
    conn.execute("DELETE FROM audit WHERE seq = 3")
    conn.commit()
    assert touchgate(["audit", "verify", "--config", str(config)]) == 1
    assert "removed at the end" in capsys.readouterr().err

    conn.execute("DELETE FROM audit WHERE seq = 1")
    conn.commit()
    conn.close()
    assert touchgate(["audit", "verify", "--config", str(config)]) == 1
    assert "entry 2: entries 1..1 are missing" in capsys.readouterr().err


async def test_retention_deletes_old_rows_and_audits(tmp_path: Path) -> None:
    now = time.time()
    store = await Store.open(tmp_path / "touchgate.db")
    try:
        def seed(db: sqlite_utils.Database) -> None:
            batch = IngestBatch()
            for age_days in (1, 10, 100, 400):
                e = ev(None, "analytics", at=now - age_days * 86400, seq=age_days)
                batch.events.append(e)
                batch.outbox.append(e)
                batch.dead_letters.append(DeadLetter(received_at=now - age_days * 86400, topic="t",
                                                     reason=DeadLetterReason.INVALID_JSON, detail="", raw=b"", raw_size=0))
            # Strangers' phones seen half a day and two days ago (anonymous ids): kept about a day.
            batch.events += [ev(None, "on_site", at=now - 43200, seq=-1), ev(None, "on_site", at=now - 2 * 86400, seq=-2)]
            write_ingest_batch(db, batch)
            db["profiles"].insert_all([{"customer_id": f"c{d}", "attributes": "{}", "updated_at": now - d * 86400}
                                       for d in (1, 400)])

        await store.call(seed)
        settings = PrivacySettings(retention={"events": "90d", "dead_letters": "7d", "profiles": "365d", "outbox": "30d"})
        deleted = await enforce_retention(store, settings, now)
        assert deleted == {"events": 2, "on_site_events": 1, "dead_letters": 3, "profiles": 1, "outbox": 2}
        ages = await store.call(lambda db: sorted(json.loads(r[0])["seq"] for r in db.conn.execute("SELECT attributes FROM events")))
        assert ages == [-1, 1, 10]
        assert await enforce_retention(store, settings, now) == {}  # nothing left to delete: no audit entry
        audit = await store.call(lambda db: db.conn.execute("SELECT kind, detail FROM audit").fetchall())
        assert len(audit) == 1 and audit[0][0] == "retention" and json.loads(audit[0][1])["deleted"] == deleted
    finally:
        await store.close()


async def test_retention_works_in_chunks(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "touchgate.db")
    try:
        await store.call(lambda db: write_ingest_batch(db, IngestBatch(events=[ev(None, "analytics", at=10.0, seq=i) for i in range(12_001)])))
        deleted = await enforce_retention(store, PrivacySettings(retention={"events": 1}), now=100.0)
        assert deleted == {"events": 12_001}
    finally:
        await store.close()


def test_erasure_from_the_central_service_is_not_sent_back(db: sqlite_utils.Database, pseudonymise: Pseudonymiser,
                                                           tmp_path: Path) -> None:
    populate(db)
    erase_customer(db, ALICE, pseudonym=pseudonymise(ALICE), source=ConsentSource.CENTRAL, now=2000.0)
    assert rows_mentioning(tmp_path / "touchgate.db", ALICE) == {}
    assert rows(tmp_path / "touchgate.db", "SELECT source FROM erasures") == [("central",)]
