"""Privacy benchmark: erasure and export of one customer on a store of 100k events.

The store is built with the gateway's own write path: 100,000 events (900 customers with 100 each
and one customer with 10,000), every second one queued in the outbox, a profile and a consent per
customer, and 2,000 dead letters of 1 KiB (searched byte-wise during erasure). Then, on the
same file: erasure and export of typical customers (100 events) and of the heavy one, the audit
log's verification, and the gate's decision cost per event. The last line is one JSON object.

    python bench/privacy.py [--runs 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import emit, machine, median

from gateway.consent.gate import LedgerGate
from gateway.consent.ledger import ConsentLedger
from gateway.consent.model import ConsentRecord, ConsentSource, ConsentStatus
from gateway.consent.pseudonym import Pseudonymiser
from gateway.consent.settings import PrivacySettings
from gateway.model.deadletter import DeadLetter, DeadLetterReason
from gateway.model.event import Event
from gateway.consent.audit_log import verify_audit
from gateway.consent.consent_rows import apply_consent_changes
from gateway.store.database import connect
from gateway.consent.erasure_rows import erase_customer, export_customer
from gateway.store.ingest_rows import IngestBatch, write_ingest_batch
from gateway.consent.key_row import load_or_create_pseudonym_key

TYPICAL, PER_TYPICAL, HEAVY_EVENTS = 900, 100, 10_000
HEAVY = "card:HEAVY"
PURPOSES = ("service", "personalisation", "analytics", "marketing")


def customer(i: int) -> str:
    return f"card:{i:08X}"


def event(customer_id: str | None, i: int, at: float) -> Event:
    return Event(received_at=at, site="shop1", device="app1", kind="app", purpose=PURPOSES[i % 4],
                 customer_id=customer_id, attributes={"seq": i, "note": "x" * 40})


def build(path: Path) -> tuple[object, Pseudonymiser]:
    db = connect(path)
    pseudonymise = Pseudonymiser(load_or_create_pseudonym_key(db))
    now = time.time()
    owners = [customer(i) for i in range(TYPICAL) for _ in range(PER_TYPICAL)] + [HEAVY] * HEAVY_EVENTS
    batch = IngestBatch()
    for n, owner in enumerate(owners):
        e = event(owner, n, now - (len(owners) - n))
        batch.events.append(e)
        if n % 2 == 0:
            batch.outbox.append(e)
        if len(batch.events) == 10_000:
            write_ingest_batch(db, batch)
            batch = IngestBatch()
    for n in range(2000):
        raw = (f'{{"customer_id": "{customer(n % TYPICAL)}", "junk": "' + "y" * 1000 + '"').encode()
        batch.dead_letters.append(DeadLetter(received_at=now, topic="touchgate/shop1/consent",
                                             reason=DeadLetterReason.INVALID_CONSENT, detail="bench", raw=raw, raw_size=len(raw)))
    write_ingest_batch(db, batch)
    everyone = [customer(i) for i in range(TYPICAL)] + [HEAVY]
    db["profiles"].insert_all([{"customer_id": c, "attributes": "{}", "updated_at": now} for c in everyone])  # type: ignore[index]
    records = [ConsentRecord(customer_id=c, purpose="service", status=ConsentStatus.GRANTED, changed_at=now,
                             source=ConsentSource.CENTRAL) for c in everyone]
    apply_consent_changes(db, records, pseudonymise=pseudonymise, privacy=PrivacySettings(), now=now)  # type: ignore[arg-type]
    return db, pseudonymise


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def gate_ns_per_event(count: int = 200_000) -> float:
    ledger = ConsentLedger(Pseudonymiser(b"k" * 32), 900)
    for i in range(1000):
        ledger.put(ConsentRecord(customer_id=customer(i), purpose="service", status=ConsentStatus.GRANTED,
                                 changed_at=0, source=ConsentSource.CENTRAL))
    gate = LedgerGate(ledger, PrivacySettings())
    events = [event(customer(i % 2000) if i % 3 else None, i, 1.0) for i in range(10_000)]
    started = time.perf_counter_ns()
    for n in range(count):
        gate.decide(events[n % len(events)])
    return (time.perf_counter_ns() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        db, pseudonymise = build(Path(tmp) / "touchgate.db")
        build_s = time.perf_counter() - started
        events = db.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]  # type: ignore[attr-defined]
        now = time.time()
        export_typical = [timed(lambda i=i: export_customer(db, customer(i), pseudonym=pseudonymise(customer(i)), now=now))
                          for i in range(args.runs)]
        export_heavy = [timed(lambda: export_customer(db, HEAVY, pseudonym=pseudonymise(HEAVY), now=now))]
        erase_typical = [timed(lambda i=i: erase_customer(db, customer(i), pseudonym=pseudonymise(customer(i)),
                                                          source=ConsentSource.OPERATOR, now=now))
                         for i in range(args.runs)]
        erase_heavy = [timed(lambda: erase_customer(db, HEAVY, pseudonym=pseudonymise(HEAVY),
                                                     source=ConsentSource.OPERATOR, now=now))]
        audit_entries = db.conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]  # type: ignore[attr-defined]
        verify_s = timed(lambda: verify_audit(db))
        left = db.conn.execute("SELECT COUNT(*) FROM events WHERE customer_id = ?", (HEAVY,)).fetchone()[0]  # type: ignore[attr-defined]
        assert left == 0
    emit({
        "bench": "privacy",
        "machine": machine(),
        "store_events": events,
        "build_s": round(build_s, 2),
        "export_typical_ms_median": round(median(export_typical) * 1000, 2),
        "export_typical_ms_max": round(max(export_typical) * 1000, 2),
        "export_heavy_10k_ms": round(export_heavy[0] * 1000, 2),
        "erase_typical_ms_median": round(median(erase_typical) * 1000, 2),
        "erase_typical_ms_max": round(max(erase_typical) * 1000, 2),
        "erase_heavy_10k_ms": round(erase_heavy[0] * 1000, 2),
        "audit_entries": audit_entries,
        "audit_verify_ms": round(verify_s * 1000, 2),
        "gate_ns_per_event": round(gate_ns_per_event(), 1),
    })


if __name__ == "__main__":
    main()
