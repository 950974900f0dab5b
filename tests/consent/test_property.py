"""Property: random streams of events and consent changes for several customers, through the real
gateway (real Mosquitto, real SQLite), never put personal data in the outbox without a consent
valid at that moment for its purpose; and after an erasure no row about the customer remains.

The outbox is the capture point: it is exactly what the sync layer may send (a trigger records
every row ever inserted into it, even ones purged later). An oracle written here, independently of
the gateway's code, says what the consents are at each step.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from gateway.app import Gateway
from gateway.consent.model import ConsentChange, ConsentSource, ConsentStatus
from profile_service.launch import running_profile_service
from profile_service.settings import ServiceSettings
from tests.consent.support import PURPOSES, app_message, consent_inbox, rows, rows_mentioning, write_profiles
from tests.support.clients import Publisher
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto

CUSTOMERS = ("c0", "c1", "c2")
DROPPED_WHEN_UNCONSENTED = {"marketing"}  # the default policy; the other purposes keep stripped

customer = st.sampled_from(CUSTOMERS)
purpose = st.sampled_from(PURPOSES)
events_step = st.tuples(st.just("events"), st.lists(st.tuples(st.none() | customer, purpose), min_size=1, max_size=6))
touch_step = st.tuples(
    st.just("touch"), customer, st.lists(purpose, min_size=1, max_size=2, unique=True),
    st.sampled_from(["granted", "denied", "revoked"]), st.sampled_from([None, 3600.0]),
)
central_step = st.tuples(
    st.just("central"), customer, purpose, st.sampled_from(["granted", "denied", "revoked"]),
    st.sampled_from([0.0, -3600.0]),  # decided now, or an old decision arriving late
    st.sampled_from([None, -10.0, 3600.0]),  # no expiry, already expired, expires later
)
forget_step = st.tuples(st.just("forget"), customer, st.sampled_from(["mqtt", "api"]))
steps = st.lists(st.one_of(events_step, events_step, touch_step, central_step, forget_step), min_size=1, max_size=10)


@dataclass
class Oracle:
    """What the consents are, by the rules in docs/privacy.md, computed without the gateway."""

    consents: dict[tuple[str, str], tuple[str, float, float | None, str]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    erased_at: dict[str, float] = field(default_factory=dict)
    granted_since_erasure: set[str] = field(default_factory=set)
    refused_since_erasure: set[str] = field(default_factory=set)  # a dead-lettered consent keeps its raw bytes

    def allows(self, c: str, p: str, at: float) -> bool:
        held = self.consents.get((c, p))
        return held is not None and held[0] == "granted" and (held[2] is None or at < held[2])

    def known(self, c: str) -> bool:
        return c in self.seen or any(key[0] == c for key in self.consents)

    def change(self, c: str, p: str, status: str, at: float, expires: float | None, source: str) -> None:
        held = self.consents.get((c, p))
        if held is not None and at < held[1]:
            return  # stale: the later decision stands
        if source == "central" and c in self.erased_at and at <= self.erased_at[c]:
            return  # decided before the erasure
        self.consents[(c, p)] = (status, at, expires, source)
        if status == "granted":
            self.granted_since_erasure.add(c)

    def forget(self, c: str, at: float) -> None:
        for key in [k for k in self.consents if k[0] == c]:
            del self.consents[key]
        self.seen.discard(c)
        self.erased_at[c] = at
        self.granted_since_erasure.discard(c)
        self.refused_since_erasure.discard(c)


CAPTURE = """
CREATE TABLE test_capture (seq INTEGER PRIMARY KEY AUTOINCREMENT, who TEXT, purpose TEXT, body TEXT);
CREATE TRIGGER test_capture_outbox AFTER INSERT ON outbox BEGIN
    INSERT INTO test_capture (who, purpose, body) VALUES (NEW.customer_id, NEW.purpose, NEW.body);
END;
"""

example_ids = itertools.count()


@dataclass
class Outcome:
    oracle: Oracle
    expected_synced: set[int]
    unknown_consents: dict[str, int]
    now: float


async def run_stream(broker: Mosquitto, workdir: Path, stream: list[tuple], **overrides: object) -> tuple[Outcome, Path]:  # type: ignore[type-arg]
    """Drive the real gateway through the steps, keeping the oracle in step; returns at the end
    of the run (the gateway stopped) with what the oracle expects."""
    n = next(example_ids)
    base = gateway_settings(broker, workdir, device_profiles_dir=write_profiles(workdir / "profiles"),
                            privacy={"refresh_check_s": 60, "expiry_check_s": 60}, **overrides)
    config = base.model_copy(update={"mqtt": base.mqtt.model_copy(update={"client_id": f"touchgate-prop-{n}"})})
    db = config.store.path
    oracle = Oracle()
    expected_synced: set[int] = set()  # seq of every event the outbox must receive
    unknown_consents: dict[str, int] = {}  # dead letters expected, per customer (erasure deletes them)
    seq = itertools.count()
    async with running_gateway(config) as runtime:
        service = runtime.service("consent")
        assert service is not None and consent_inbox(runtime) is not None
        inbox = consent_inbox(runtime)
        await runtime.store.call(lambda d: d.conn.executescript(CAPTURE))
        decided = 0
        with Publisher(broker.host, broker.port, client_id=f"prop-pub-{n}") as pub:
            for step in stream:
                kind = step[0]
                if kind == "events":
                    batch = []
                    for c, p in step[1]:
                        s = next(seq)
                        if c is None or oracle.allows(c, p, time.time()):
                            expected_synced.add(s)
                        if c is not None:
                            oracle.seen.add(c)
                        batch.append(app_message(c, p, s))
                    await asyncio.to_thread(pub.publish_all, batch)
                    decided += len(batch)
                    await wait_until(lambda: sum(runtime.ingest.counters.by_gate_class.values()) >= decided)
                elif kind == "touch":
                    _, c, ps, status, expiry = step
                    at = time.time()
                    before = inbox.handled + inbox.rejected
                    body = {"customer_id": f"app:{c}", "purposes": ps, "status": status, "at": at}
                    if expiry is not None:
                        body["expires_at"] = at + expiry
                    if oracle.known(c):
                        for p in ps:
                            oracle.change(c, p, status, at, body.get("expires_at"), "touchpoint")
                    else:
                        unknown_consents[c] = unknown_consents.get(c, 0) + 1
                        oracle.refused_since_erasure.add(c)
                    await asyncio.to_thread(pub.publish_all, [("touchgate/shop1/consent", json.dumps(body))])
                    await wait_until(lambda: inbox.handled + inbox.rejected > before)
                elif kind == "central":
                    _, c, p, status, offset, expiry = step
                    now = time.time()
                    at, expires = now + offset, (None if expiry is None else now + expiry)
                    oracle.change(c, p, status, at, expires, "central")
                    change = ConsentChange(customer_id=f"app:{c}", purpose=p, status=ConsentStatus(status),
                                           changed_at=at, expires_at=expires)
                    await service.apply_changes([change], ConsentSource.CENTRAL)
                else:
                    _, c, via = step
                    if via == "api":
                        await service.forget(f"app:{c}", ConsentSource.OPERATOR)
                    elif not oracle.known(c):
                        # A touchpoint may erase only a customer this shop knows: refused, audited.
                        before = inbox.rejected
                        unknown_consents[c] = unknown_consents.get(c, 0) + 1
                        await asyncio.to_thread(
                            pub.publish_all, [("touchgate/shop1/erasure", json.dumps({"customer_id": f"app:{c}"}))])
                        await wait_until(lambda: inbox.rejected > before)
                        oracle.refused_since_erasure.add(c)
                        await runtime.store.call(lambda d: None)
                        continue
                    else:
                        before = inbox.handled
                        await asyncio.to_thread(
                            pub.publish_all, [("touchgate/shop1/erasure", json.dumps({"customer_id": f"app:{c}"}))])
                        await wait_until(lambda: inbox.handled > before)
                    oracle.forget(c, time.time())
                    unknown_consents.pop(c, None)
                    await runtime.store.call(lambda d: None)
                    assert set(rows_mentioning(db, f"app:{c}")) <= {"erasures_outbox", "test_capture"}
                await runtime.store.call(lambda d: None)  # every write of this step is on disk
            await expire_check(runtime)
        now = time.time()
        still_allowed = {(c, p) for c in CUSTOMERS for p in PURPOSES if service.allows(f"app:{c}", p, now)}
        assert still_allowed == {(c, p) for c in CUSTOMERS for p in PURPOSES if oracle.allows(c, p, now)}
        if config.sync.url is not None:
            # Let sync deliver everything still queued (events and erasures) before stopping.
            await wait_until(lambda: rows(db, "SELECT (SELECT COUNT(*) FROM outbox) + (SELECT COUNT(*) FROM erasures_outbox)")
                             == [(0,)], timeout=30)
    return Outcome(oracle, expected_synced, unknown_consents, now), db


def check_local_store(outcome: Outcome, db: Path) -> None:
    oracle, now = outcome.oracle, outcome.now
    captured = rows(db, "SELECT who, purpose, body FROM test_capture")
    synced = {json.loads(body)["attributes"]["seq"] for _, _, body in captured}
    assert synced == outcome.expected_synced
    for who, p, body in captured:
        assert who == json.loads(body)["customer_id"]
    # What is still queued, and every personal row kept, is covered by a consent valid now.
    for who, p in rows(db, "SELECT customer_id, purpose FROM outbox WHERE customer_id IS NOT NULL"):
        assert oracle.allows(who.removeprefix("app:"), p, now), (who, p)
    for who, p in rows(db, "SELECT customer_id, purpose FROM events WHERE customer_id IS NOT NULL"):
        assert oracle.allows(who.removeprefix("app:"), p, now), (who, p)
    for c in oracle.erased_at:
        if c not in oracle.granted_since_erasure:
            allowed = {"erasures_outbox", "test_capture", "consents"}
            if c in oracle.refused_since_erasure:
                allowed.add("dead_letters")
            assert set(rows_mentioning(db, f"app:{c}")) <= allowed
            # A consent row may only be a refusal recorded after the erasure.
            assert all(s != "granted" for (s,) in rows(db, "SELECT status FROM consents WHERE customer_id = ?", (f"app:{c}",)))
    unknown = rows(db, "SELECT COUNT(*) FROM dead_letters WHERE reason = 'unknown_customer'")[0][0]
    assert unknown == sum(outcome.unknown_consents.values())


SETTINGS = settings(deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@settings(SETTINGS, max_examples=12)
@given(stream=steps)
async def test_nothing_personal_reaches_the_outbox_without_consent(broker: Mosquitto, tmp_path: Path, stream: list[tuple]) -> None:  # type: ignore[type-arg]
    outcome, db = await run_stream(broker, tmp_path / f"example{next(example_ids)}", stream)
    check_local_store(outcome, db)
    assert rows(db, "SELECT COUNT(*) FROM dead_letters WHERE reason != 'unknown_customer'") == [(0,)]


@settings(SETTINGS, max_examples=6)
@given(stream=steps)
async def test_nothing_personal_reaches_the_central_service_without_consent(
    broker: Mosquitto, tmp_path: Path, stream: list[tuple]  # type: ignore[type-arg]
) -> None:
    workdir = tmp_path / f"central{next(example_ids)}"
    workdir.mkdir(parents=True)
    central_db = workdir / "central.db"
    service_settings = ServiceSettings(port=0, db_path=central_db, site_tokens={"shop1": "token-shop1"})
    async with running_profile_service(service_settings) as url:
        sync = {"url": url, "token": "token-shop1", "linger_s": 0.02, "poll_interval_s": 0.2, "limits_interval_s": 0.2,
                "backoff_initial_s": 0.05, "backoff_max_s": 0.2, "request_timeout_s": 5.0}
        outcome, db = await run_stream(broker, workdir, stream, sync=sync)
    check_local_store(outcome, db)
    received = rows(central_db, "SELECT customer_id, body FROM events")
    seqs = {json.loads(body)["attributes"]["seq"]: who for who, body in received}
    # Everything the central service holds was sendable when it arrived at the gateway; and the
    # anonymous events all arrived (so the sync path was really exercised).
    assert set(seqs) <= outcome.expected_synced
    queued_anonymous = {json.loads(b)["attributes"]["seq"] for (b,) in rows(db, "SELECT body FROM test_capture WHERE who IS NULL")}
    assert {s for s, who in seqs.items() if who is None} == queued_anonymous
    for c in outcome.oracle.erased_at:
        if c not in outcome.oracle.granted_since_erasure:
            assert rows(central_db, "SELECT COUNT(*) FROM events WHERE customer_id = ?", (f"app:{c}",)) == [(0,)]


async def expire_check(runtime: Gateway) -> None:
    """Run the expiry enforcement once (the periodic task is slowed down in this test)."""
    assert runtime.service("consent") is not None
    await runtime.service("consent").expire_due()
