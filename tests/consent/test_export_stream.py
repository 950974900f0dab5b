"""`touchgate export CUSTOMER` for a customer with a long history, as a child process: the rows are
streamed into the same document the API returns, a bar is drawn on a terminal only, the file is
private and appears whole or not at all, and the export is audited."""

from __future__ import annotations

import io
import json
from pathlib import Path

import sqlite_utils

from gateway.consent.export_file import write_customer_export
from gateway.consent.model import CustomerExport
from gateway.consent.pseudonym import Pseudonymiser
from gateway.model.event import Event
from gateway.store.database import connect
from gateway.consent.erasure_rows import export_customer
from gateway.store.ingest_rows import IngestBatch, write_ingest_batch
from gateway.consent.key_row import load_or_create_pseudonym_key
from tests.consent.support import redacted_dead_letter
from tests.support.cli import run_touchgate

CAROL, DAVE = "card:CA401", "card:DA7E"
HISTORY = 12_000  # Carol's events (some queued for sync too)


def long_history(tmp_path: Path) -> tuple[Path, str]:
    """A store where Carol has a long history and Dave a short one; returns (config, Carol's pseudonym)."""
    db = connect(tmp_path / "touchgate.db")
    try:
        batch = IngestBatch()
        for i in range(HISTORY):
            event = Event(received_at=1000.0 + i, site="shop1", device="app1", kind="app", purpose="service",
                          customer_id=CAROL, attributes={"seq": i, "note": "ünïcode ✓"})
            batch.events.append(event)
            if i % 4 == 0:
                batch.outbox.append(event)
        batch.events += [Event(received_at=1.0, site="shop1", device="app1", kind="app", purpose="service", customer_id=DAVE)]
        pseudonymise = Pseudonymiser(load_or_create_pseudonym_key(db))
        # Not JSON: kept bounded, the id cut out by its key and named by pseudonym.
        batch.dead_letters.append(
            redacted_dead_letter("touchgate/shop1/consent", json.dumps({"customer_id": CAROL}).encode() + b"\xff", pseudonymise, at=5.0)
        )
        write_ingest_batch(db, batch)
        pseudonym = pseudonymise(CAROL)
    finally:
        db.conn.close()
    config = tmp_path / "touchgate.yaml"
    config.write_text("site_id: shop1\nstore:\n  path: touchgate.db\n")
    return config, pseudonym


def expected_rows() -> int:
    return HISTORY + HISTORY // 4 + 1  # events, outbox, the dead letter


def test_export_to_a_file_streams_every_row_quietly(tmp_path: Path) -> None:
    config, pseudonym = long_history(tmp_path)
    out = tmp_path / "carol.json"
    run = run_touchgate(["export", CAROL, "--out", str(out), "--config", str(config)])
    assert run.code == 0, run.stderr
    assert run.stderr == f"wrote {expected_rows()} rows about {pseudonym} to {out}\n"  # no bar in a pipe
    assert run.stdout == ""
    assert out.stat().st_mode & 0o077 == 0 and not list(tmp_path.glob("*.partial"))
    streamed = CustomerExport.model_validate_json(out.read_text(encoding="utf-8"))
    db = connect(tmp_path / "touchgate.db")
    try:
        audited = db.conn.execute("SELECT kind, detail FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        in_memory = export_customer(db, CAROL, pseudonym=pseudonym, now=2.0)
    finally:
        db.conn.close()
    assert streamed.tables == in_memory.tables  # the same document as the API's, row for row
    assert len(streamed.tables["events"]) == HISTORY and streamed.tables["events"][-1]["attributes"]["seq"] == HISTORY - 1
    assert streamed.pseudonym == pseudonym and streamed.audit == []
    assert audited[0] == "export" and json.loads(audited[1])["rows"]["events"] == HISTORY and CAROL not in audited[1]


def test_export_draws_a_bar_on_a_terminal(tmp_path: Path) -> None:
    config, _ = long_history(tmp_path)
    run = run_touchgate(["export", CAROL, "--config", str(config)], terminal=True)
    assert run.code == 0
    total = expected_rows()
    assert "export" in run.stderr and "100%" in run.stderr and f"{total}/{total}" in run.stderr
    document = json.loads(run.stdout)  # standard output holds the document and nothing else
    assert document["customer_id"] == CAROL and len(document["tables"]["outbox"]) == HISTORY // 4


def test_the_bar_counts_rows_as_they_are_written(tmp_path: Path) -> None:
    long_history(tmp_path)
    db: sqlite_utils.Database = connect(tmp_path / "touchgate.db")
    try:
        out, bar = io.StringIO(), io.StringIO()
        written = write_customer_export(db, DAVE, pseudonym="p", now=3.0, out=out, bar_stream=bar, show_progress=True)
        quiet = io.StringIO()
        write_customer_export(db, DAVE, pseudonym="p", now=3.0, out=io.StringIO(), bar_stream=quiet)
    finally:
        db.conn.close()
    assert sum(written.values()) == 1 and written["events"] == 1 and written["dead_letters"] == 0
    assert "1/1" in bar.getvalue() and quiet.getvalue() == ""
    assert json.loads(out.getvalue())["tables"]["events"][0]["customer_id"] == DAVE
