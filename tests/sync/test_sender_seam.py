"""The outbox sender built directly: a real store, the consent lookup and the transport as fake
ports (the whole-gateway tests against the real profile service stay beside these). What it
promises: consent is asked again at send time and a revoked event is purged unsent; accepted
events leave the outbox, rejected ones become dead letters, a 503 keeps everything for later."""

from __future__ import annotations

import json
import time
from pathlib import Path

from gateway.model.event import Event
from gateway.store import Store
from gateway.store.ingest_rows import IngestBatch, write_ingest_batch
from gateway.sync.outcome import HttpOutcome
from gateway.sync.sender import EVENTS_PATH, DrainEnd, OutboxSender, Settled
from gateway.sync.settings import SyncSettings


class Consents:
    """The consent lookup port: who may be synced right now."""

    def __init__(self, allowed: set[str]) -> None:
        self.allowed = allowed
        self.asked: list[str] = []

    def allows(self, customer_id: str, purpose: str, at: float) -> bool:
        self.asked.append(customer_id)
        return customer_id in self.allowed


class Central:
    """The transport port: answers each batch as told, and keeps what was sent."""

    def __init__(self, status: int = 200, reject: frozenset[str] = frozenset()) -> None:
        self.status = status
        self.reject = reject
        self.sent: list[dict[str, object]] = []

    async def post_json(self, path: str, body: bytes) -> HttpOutcome:
        assert path == EVENTS_PATH
        events = json.loads(body)["events"]
        self.sent.extend(events)
        if self.status != 200:
            return HttpOutcome(self.status, b'{"error":"unavailable"}')
        ids = [e["id"] for e in events]
        answer = {
            "accepted": [i for i in ids if i not in self.reject],
            "rejected": [{"id": i, "reason": "schema"} for i in ids if i in self.reject],
        }
        return HttpOutcome(200, json.dumps(answer).encode())


def event(kind: str, customer: str | None = None) -> Event:
    return Event(received_at=time.time(), site="shop1", device="d1", kind=kind, purpose="analytics", customer_id=customer)


async def queued(store: Store, *events: Event) -> None:
    batch = IngestBatch(events=list(events), outbox=list(events))
    await store.call(lambda db: write_ingest_batch(db, batch))


def sender(store: Store, central: Central, consents: Consents, settled: list[Settled]) -> OutboxSender:
    settings = SyncSettings(url="http://127.0.0.1:9", token="t" * 24, linger_s=0, backoff_initial_s=0.05, backoff_max_s=0.1)
    built = OutboxSender(store, central, settings, consents, 4096)  # type: ignore[arg-type]
    built.on_settled.append(settled.append)
    return built


async def outbox_ids(store: Store) -> set[str]:
    return await store.call(lambda db: {r[0] for r in db.execute("SELECT event_id FROM outbox")})


async def test_consent_is_asked_again_at_send_time(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    try:
        kept, revoked, anonymous = event("visit", "card:A"), event("visit", "card:B"), event("door")
        await queued(store, kept, revoked, anonymous)
        central, consents, settled = Central(), Consents({"card:A"}), []
        assert await sender(store, central, consents, settled).drain(time.time() + 10) is DrainEnd.EMPTY
        assert {e["id"] for e in central.sent} == {kept.id, anonymous.id}  # the revoked one never left
        assert set(consents.asked) == {"card:A", "card:B"}
        assert await outbox_ids(store) == set()
        assert sum(s.purged for s in settled) == 1 and sum(len(s.accepted_kinds) for s in settled) == 2
    finally:
        await store.close()


async def test_rejected_events_are_dead_letters_and_a_503_keeps_everything(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    try:
        good, bad = event("door"), event("door")
        await queued(store, good, bad)
        down, settled = Central(status=503), []
        unavailable = sender(store, down, Consents(set()), settled)
        assert await unavailable.drain(time.time() + 0.3) is DrainEnd.TIMEOUT
        assert down.sent and await outbox_ids(store) == {good.id, bad.id}  # tried, nothing lost
        assert unavailable.status.last_error
        up = Central(reject=frozenset({bad.id}))
        assert await sender(store, up, Consents(set()), settled).drain(time.time() + 10) is DrainEnd.EMPTY
        letters = await store.call(lambda db: [r[0] for r in db.execute("SELECT detail FROM dead_letters WHERE reason = 'sync_rejected'")])
        assert await outbox_ids(store) == set() and len(letters) == 1 and "schema" in letters[0]
    finally:
        await store.close()


async def test_a_rejected_personal_event_is_kept_without_the_id_and_named_by_pseudonym(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    try:
        anna, other = event("visit", "card:94D8FC5F"), event("visit", "card:94D8FC5F77")
        await queued(store, anna, other)
        settings = SyncSettings(url="http://127.0.0.1:9", token="t" * 24, linger_s=0)
        central = Central(reject=frozenset({anna.id, other.id}))
        built = OutboxSender(store, central, settings, Consents({"card:94D8FC5F", "card:94D8FC5F77"}), 4096,  # type: ignore[arg-type]
                             pseudonymise=lambda c: "p:" + c.encode().hex())
        assert await built.drain(time.time() + 10) is DrainEnd.EMPTY
        letters = await store.call(lambda db: db.execute("SELECT raw, customer_pseudonym, raw_state FROM dead_letters ORDER BY id").fetchall())
    finally:
        await store.close()
    assert sorted(p for _, p, _ in letters) == sorted("p:" + c.encode().hex() for c in ("card:94D8FC5F", "card:94D8FC5F77"))
    assert all(b"94D8FC5F" not in raw and json.loads(raw)["customer_id"] == "<redacted>" and state == "redacted" for raw, _, state in letters)
