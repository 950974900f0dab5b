"""Dead letters and erasure/export, played by an attacker and by a second customer (issue 14, case 6),
against a real gateway: real Mosquitto, the real SQLite file, the admin API.

Anna's card id is a prefix of Ben's. Both tap cards that the gateway cannot accept (a broken
clock, a cut-off payload); the dead letters must keep neither UID in clear, must be found by each
customer's own export and erasure exactly, and nothing of them may come back for an id that only
matches as a substring (`"`, `%`, `_`, a prefix, the pseudonyms' own prefix).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

from gateway.consent.model import ConsentRecord, ConsentSource, ConsentStatus
from gateway.devices.identifiers import spelling_pattern
from gateway.devices.normalise import Normaliser
from gateway.devices.registry import load_profiles
from gateway.config.settings import PROJECT_ROOT
from gateway.consent.key_row import load_or_create_pseudonym_key
from gateway.consent.pseudonym import Pseudonymiser
from gateway.store.database import connect
from tests.api.conftest import ApiHarness, started_api
from tests.support.mosquitto import Mosquitto

CARD_TOPIC = "tele/cardreader_kiosk1/SENSOR"
ANNA_UID, BEN_UID = "94D8FC5F", "94D8FC5F77"
ANNA, BEN = f"card:{ANNA_UID}", f"card:{BEN_UID}"


def tap(uid: str, time_text: str = "2026-11-28T10:02:44") -> str:
    return '{"Time":"%s","PN532":{"UID":"%s","DATA":""}}' % (time_text, uid)


def dead_letters_spelling(db: Path, uid: str) -> int:
    """Dead letters whose raw, topic or detail hold the UID in any spelling (case, separators)."""
    pattern = spelling_pattern(uid)
    assert pattern is not None
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT raw, topic, detail FROM dead_letters").fetchall()
    finally:
        conn.close()
    return sum(1 for raw, topic, detail in rows if any(pattern.search(bytes(v) if isinstance(v, bytes) else str(v).encode()) for v in (raw, topic, detail)))


async def grant(api: ApiHarness, customer_id: str) -> None:
    consents = api.runtime.service("consent")
    record = ConsentRecord(customer_id=customer_id, purpose="service", status=ConsentStatus.GRANTED,
                           changed_at=time.time(), source=ConsentSource.OPERATOR)
    await consents.apply_records([record])


async def export_tables(api: ApiHarness, customer_id: str) -> dict[str, list[dict[str, object]]]:
    body = await api.get_json("/api/customers/" + quote(customer_id, safe=""))
    return body["data"]["tables"]  # type: ignore[no-any-return]


async def test_two_customers_and_an_attacker_see_only_their_own_dead_letters(api: ApiHarness) -> None:
    db = api.runtime.settings.store.path
    await grant(api, BEN)
    await api.publish([
        (CARD_TOPIC, tap(ANNA_UID, time_text="x")),  # Anna's reader has a broken clock: bad_time
        (CARD_TOPIC, tap(BEN_UID)[:-3]),  # Ben's tap cut off: not JSON
        (CARD_TOPIC, tap(BEN_UID)),  # Ben's tap as it should be (consented: kept with his id)
        (CARD_TOPIC, b"PN532 UID=94d8-fc5f garbage \xff"),  # not even text: nobody's, nothing in clear
    ])
    assert api.db_scalar("SELECT count(*) FROM dead_letters") == 3
    for uid in (ANNA_UID, BEN_UID):
        assert dead_letters_spelling(db, uid) == 0, f"a dead letter keeps {uid} in clear"
    conn = sqlite3.connect(db)
    try:
        states = conn.execute("SELECT reason, raw_state, customer_pseudonym IS NOT NULL FROM dead_letters ORDER BY id").fetchall()
    finally:
        conn.close()
    assert states == [("bad_time", "redacted", 1), ("invalid_json", "unparsed", 1), ("invalid_utf8", "unparsed", 0)]

    # The attacker: ids that match everything, or anything, as a substring, and Anna's id (a
    # prefix of Ben's), and the pseudonyms' own prefix.
    for probe in ('"', "%", "_", "card:", "p:", "card:%", "94D8", ANNA_UID):
        tables = await export_tables(api, probe)
        assert all(rows == [] for rows in tables.values()), (probe, tables)
    async with api.http.get(api.url + "/api/customers/") as response:
        assert response.status in (400, 404, 405)
        assert "dead_letters" not in await response.text()

    # Each customer's export holds their own dead letters, found by pseudonym, and no other's.
    anna = await export_tables(api, ANNA)
    assert [d["reason"] for d in anna["dead_letters"]] == ["bad_time"]
    assert anna["events"] == [] and ANNA_UID not in str(anna["dead_letters"])
    ben = await export_tables(api, BEN)
    assert [d["reason"] for d in ben["dead_letters"]] == ["invalid_json"]
    assert ben["dead_letters"][0]["raw_state"] == "unparsed" and len(ben["events"]) == 1

    # Anna's erasure takes her dead letter and nothing of Ben's.
    async with api.http.delete(api.url + "/api/customers/" + quote(ANNA, safe="")) as response:
        report = await response.json()
        assert response.status == 200, report
    assert report["deleted"]["dead_letters"] == 1
    assert all(rows == [] for rows in (await export_tables(api, ANNA)).values())
    ben_after = await export_tables(api, BEN)
    assert len(ben_after["dead_letters"]) == 1 and len(ben_after["events"]) == 1
    assert api.db_scalar("SELECT count(*) FROM dead_letters") == 2  # Ben's, and nobody's garbage

    # Ben erased: his dead letter goes with him.
    async with api.http.delete(api.url + "/api/customers/" + quote(BEN, safe="")) as response:
        assert response.status == 200 and (await response.json())["deleted"]["dead_letters"] == 1
    assert api.db_scalar("SELECT count(*) FROM dead_letters WHERE customer_pseudonym IS NOT NULL") == 0


async def test_dead_letters_kept_before_the_upgrade_are_screened_and_erasable(broker: Mosquitto, tmp_path: Path) -> None:
    """Rows from before dead letters named customers by pseudonym (raw_state NULL) hold UIDs in
    clear: the gateway screens them at start, and erasure then finds them exactly."""
    db_path = tmp_path / "touchgate.db"
    db = connect(db_path)
    key = load_or_create_pseudonym_key(db)
    db.conn.executemany(
        "INSERT INTO dead_letters (received_at, topic, reason, detail, raw, raw_size) VALUES (?,?,?,?,?,?)",
        [
            (1.0, CARD_TOPIC, "bad_time", f"device time for {ANNA_UID}", tap(ANNA_UID, "x").encode(), 50),
            (2.0, CARD_TOPIC, "invalid_json", "cut", tap(BEN_UID).encode()[:62], 70),
            (3.0, "home/shop1/BTtoMQTT/C1A2B3C4D5E6", "wrong_type", "rssi", b'{"id":"C1:A2:B3:C4:D5:E6","rssi":"x"}', 40),
        ],
    )
    db.conn.close()
    async with started_api(broker, tmp_path) as api:
        assert api.db_scalar("SELECT count(*) FROM dead_letters WHERE raw_state IS NULL") == 0
        for uid in (ANNA_UID, BEN_UID, "C1A2B3C4D5E6"):
            assert dead_letters_spelling(db_path, uid) == 0, uid
        pseudonymise = Pseudonymiser(key)
        assert api.db_scalar("SELECT count(*) FROM dead_letters WHERE customer_pseudonym = ?", (pseudonymise(ANNA),)) == 1
        async with api.http.delete(api.url + "/api/customers/" + quote(ANNA, safe="")) as response:
            assert (await response.json())["deleted"]["dead_letters"] == 1
        assert [d["reason"] for d in (await export_tables(api, BEN))["dead_letters"]] == ["invalid_json"]


def test_redaction_never_raises_on_hostile_payloads() -> None:
    """A dead letter is always kept: deep nesting, huge numbers, bytes that are not text."""
    profiles, _ = load_profiles(PROJECT_ROOT / "device_profiles")
    normaliser = Normaliser(profiles, "shop1", 256 * 1024, 4096)
    from gateway.model.deadletter import DeadLetterReason
    from gateway.model.inbound import InboundMessage

    for topic in (CARD_TOPIC, "home/shop1/BTtoMQTT/C1A2B3C4D5E6", "touchgate/shop1/erasure", "unknown/x"):
        for raw in (b"[" * 5000, b'{"a":' * 900 + b"1" + b"}" * 900, b"\xff\xfe" * 100, b'{"customer_id": 1' + b"0" * 5000 + b"}"):
            letter = normaliser.dead_letter(InboundMessage(topic, raw, 1, 1, 1.0), DeadLetterReason.INVALID_JSON, "x")
            assert letter.raw_size == len(raw) and len(letter.raw) <= 4096
