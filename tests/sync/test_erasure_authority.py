"""Issue 14, "any site erases anyone, chain-wide", played against the real central service on both
storages: a hostile (or careless) shop asks to erase a customer it never saw; it squats another
shop's event ids; it sends numbers that are not numbers. And the SQLite file of an older version
migrates to ids unique per site."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from profile_service import storage
from profile_service.sqlite_schema import MIGRATIONS
from tests.sync.conftest import ADMIN_TOKEN, CONSENTED, OFFICER_TOKEN, OTHER_SITE, OTHER_TOKEN, SITE, SITE_TOKEN, UNCONSENTED, Central
from tests.sync.test_profile_service import call, event


def erasure(erasure_id: str, customer_id: str) -> dict[str, Any]:
    return {"erasures": [{"id": erasure_id, "customer_id": customer_id, "requested_at": time.time()}]}


def erasure_changes(central: Central) -> list[tuple[str, str]]:
    _, page = call(central, "GET", "/v1/changes?since=0&site=shop1")
    return [(c["customer_id"], c["origin_site"]) for c in page["changes"] if c["type"] == "erasure"]


def test_a_site_erases_only_customers_it_has_seen_the_officer_anyone(central: Central) -> None:
    # shop1 saw Anna (CONSENTED); shop2 never did. shop2 asks to erase her: held, nothing deleted.
    call(central, "POST", "/v1/events:batch", {"events": [event("e1", customer_id=CONSENTED)]})
    status, answer = call(central, "POST", "/v1/erasures", erasure("shop2:1:1", CONSENTED), token=OTHER_TOKEN)
    assert (status, answer) == (200, {"accepted": ["shop2:1:1"], "held": ["shop2:1:1"]})
    assert call(central, "POST", "/v1/erasures", erasure("shop2:1:1", CONSENTED), token=OTHER_TOKEN)[1]["held"] == ["shop2:1:1"]
    assert central.event_ids() == ["e1"] and erasure_changes(central) == []
    assert central.query("SELECT outcome FROM erasures WHERE gateway_site = ?", (OTHER_SITE,)) == [("held",)]

    # The review list is the officer's alone; a site token does not open it, the officer's opens nothing else.
    assert call(central, "GET", "/v1/privacy/held-erasures")[0] == 401
    assert call(central, "POST", "/v1/events:batch", {"events": []}, token=OFFICER_TOKEN)[0] == 401
    assert call(central, "GET", "/v1/changes?since=0", token=OFFICER_TOKEN)[0] == 401
    status, review = call(central, "GET", "/v1/privacy/held-erasures", token=OFFICER_TOKEN)
    assert status == 200 and [(h["site"], h["id"], h["customer_id"]) for h in review["held"]] == [(OTHER_SITE, "shop2:1:1", CONSENTED)]

    # A customer the site has seen is erased at once, and every shop is told (origin: that site).
    assert call(central, "POST", "/v1/erasures", erasure("shop1:7:1", CONSENTED))[1] == {"accepted": ["shop1:7:1"], "held": []}
    assert central.event_ids() == [] and erasure_changes(central) == [(CONSENTED, SITE)]
    assert call(central, "GET", "/v1/privacy/held-erasures", token=OFFICER_TOKEN)[1] == {"held": []}  # resolved
    assert central.query("SELECT COUNT(*) FROM customer_sites WHERE customer_id = ?", (CONSENTED,)) == [(0,)]

    # The officer erases anyone (here a customer no shop sent an event of), announced as the officer's.
    assert call(central, "POST", "/v1/erasures", erasure("po:1", UNCONSENTED), token=OFFICER_TOKEN)[1]["held"] == []
    assert erasure_changes(central) == [(CONSENTED, SITE), (UNCONSENTED, "privacy-officer")]
    # Every request stays on record with who asked and what came of it (ids per asking site).
    outcomes = central.query("SELECT gateway_site, id, outcome FROM erasures ORDER BY received_at")
    assert outcomes == [(OTHER_SITE, "shop2:1:1", "held"), (SITE, "shop1:7:1", "erased"), ("privacy-officer", "po:1", "erased")]
    # Requests are bounded like event batches (each one is a row kept).
    flood = {"erasures": [{"id": f"f{i}", "customer_id": "app:x", "requested_at": 1.0} for i in range(10_001)]}
    assert call(central, "POST", "/v1/erasures", flood, token=OTHER_TOKEN)[0] == 413


def test_event_ids_are_unique_per_site_not_chain_wide(central: Central) -> None:
    """shop2 sends first the ids shop1 will send: both shops' events are stored."""
    squat = {"events": [event("e-1", site=OTHER_SITE), event("e-2", site=OTHER_SITE)]}
    assert call(central, "POST", "/v1/events:batch", squat, token=OTHER_TOKEN)[1]["accepted"] == ["e-1", "e-2"]
    assert call(central, "POST", "/v1/events:batch", {"events": [event("e-1"), event("e-2")]})[1]["accepted"] == ["e-1", "e-2"]
    rows = central.query("SELECT gateway_site, id FROM events ORDER BY gateway_site, id")
    assert rows == [(SITE, "e-1"), (SITE, "e-2"), (OTHER_SITE, "e-1"), (OTHER_SITE, "e-2")]
    assert central.stats()["events_stored"] == 4


def test_non_finite_numbers_are_refused_with_400(central: Central) -> None:
    raw = '{"id": "n", "received_at": %s, "site": "shop1", "device": "d", "kind": "k", "purpose": "analytics"}'
    for literal in ("NaN", "Infinity", "-Infinity"):
        for path, body in (
            ("/v1/events:batch", '{"events": [%s]}' % (raw % literal)),
            ("/v1/events:batch", '{"events": [%s]}' % (raw % "1").replace('"kind"', '"device_time": %s, "kind"' % literal)),
            ("/v1/erasures", '{"erasures": [{"id": "x", "customer_id": "c", "requested_at": %s}]}' % literal),
        ):
            status, answer = _post_raw(central, path, body)
            assert (status, answer["error"]) == (400, "not_json"), body
    assert central.event_ids() == [] and central.query("SELECT COUNT(*) FROM erasures") == [(0,)]
    # A number too large for a float is JSON, but not a finite value: that event alone is rejected.
    big = {"events": [event("ok"), {**event("big"), "attributes": {"v": 1}}]}
    body = json.dumps(big).replace('"v": 1', '"v": 1e400')
    status, answer = _post_raw(central, "/v1/events:batch", body)
    assert status == 200 and answer["accepted"] == ["ok"] and [r["id"] for r in answer["rejected"]] == ["big"]
    # The admin's profile writes too (they reach every shop on the feed).
    status, answer = _post_raw(central, f"/v1/admin/customers/{CONSENTED}/profile", '{"score": NaN}', "PUT", ADMIN_TOKEN)
    assert (status, answer["error"]) == (400, "not_json")
    # The words inside strings are just words.
    assert call(central, "POST", "/v1/events:batch", {"events": [event("w", device="NaN-Infinity")]})[1]["accepted"] == ["w"]


def _post_raw(central: Central, path: str, body: str, method: str = "POST", token: str = SITE_TOKEN) -> tuple[int, Any]:
    request = urllib.request.Request(central.url + path, data=body.encode(), method=method,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_version_1_sqlite_file_migrates_to_ids_per_site(tmp_path: Path) -> None:
    """A file written before the per-site keys: its events and erasures are kept, keyed per
    site, and the sites that sent a customer's events are recorded as having seen them."""
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(MIGRATIONS[0])
    old.execute("INSERT INTO events VALUES ('a', 'shop1', 'shop1', 'card:1', 'service', 'identify', 1.0, '{}', 5.0)")
    old.execute("INSERT INTO events VALUES ('b', 'shop2', 'shop2', NULL, 'analytics', 'occupancy', 1.0, '{}', 6.0)")
    old.execute("INSERT INTO erasures VALUES ('e', 'card:2', 'shop2', 1.0, 2.0)")
    old.commit()
    old.close()
    conn = storage.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        keys = [r[1] for r in conn.execute("PRAGMA table_info(events)") if r[5]]
        assert keys == ["gateway_site", "id"]
        assert conn.execute("SELECT gateway_site, id FROM events ORDER BY id").fetchall() == [("shop1", "a"), ("shop2", "b")]
        assert conn.execute("SELECT gateway_site, id, outcome FROM erasures").fetchall() == [("shop2", "e", "erased")]
        assert conn.execute("SELECT * FROM customer_sites").fetchall() == [("card:1", "shop1", 5.0)]
        conn.execute("INSERT INTO events VALUES ('shop2', 'a', 'shop2', NULL, 'analytics', 'k', 1.0, '{}', 7.0)")
    finally:
        conn.close()
    storage.connect(path).close()  # opening again changes nothing
