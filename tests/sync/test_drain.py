"""`touchgate sync drain` as an operator runs it (a child process) against the real reference
service: everything queued goes now, consent is checked again at send time, a bar is drawn only
on a terminal, and it fails (exit 1, nothing lost) when the service is down or refuses us."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.model.event import Event
from gateway.store.database import connect
from gateway.store.ingest_rows import IngestBatch, write_ingest_batch
from profile_service.launch import ProfileServiceProcess
from tests.support.cli import run_touchgate
from tests.support.mosquitto import free_port
from tests.sync.conftest import CONSENTED, SITE, Central, local_rows, sync_config

QUEUED = 240  # several batches of sync_config's 50


def queue_events(db_path: Path, anonymous: int, personal: int = 0) -> list[Event]:
    """Events in the outbox as ingest leaves them (the spine's own write path). The personal ones
    have no consent in this store, so the drain must purge them rather than send them."""
    now = time.time()
    events = [
        Event(received_at=now, site=SITE, device=f"motion-{i % 5}", kind="occupancy" if i % 3 else "illuminance",
              purpose="analytics", attributes={"n": i})
        for i in range(anonymous)
    ]
    events += [
        Event(received_at=now, site=SITE, device="reader1", kind="identify", purpose="service", customer_id=CONSENTED)
        for _ in range(personal)
    ]
    db = connect(db_path)
    try:
        write_ingest_batch(db, IngestBatch(events=events, outbox=events))
    finally:
        db.conn.close()
    return events


def write_config(folder: Path, sync: dict[str, Any], store: str = "touchgate.db") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "touchgate.yaml"
    config.write_text(yaml.safe_dump({"site_id": SITE, "store": {"path": store}, "sync": sync}))
    return config


def outbox_count(db_path: Path) -> int:
    return int(local_rows(db_path, "SELECT COUNT(*) FROM outbox")[0][0])


def test_drain_sends_everything_and_purges_what_lost_consent(central: Central, tmp_path: Path) -> None:
    config = write_config(tmp_path, sync_config(central.url, linger_s=300))  # lingering is not waited for
    events = queue_events(tmp_path / "touchgate.db", QUEUED, personal=3)
    run = run_touchgate(["sync", "drain", "--config", str(config), "--timeout", "30"])
    assert run.code == 0, run.stderr
    assert run.stdout.strip() == f"sent {QUEUED}, rejected 0, purged 3; 0 left in the outbox"
    assert run.stderr == ""  # not a terminal: no bar, no noise
    assert outbox_count(tmp_path / "touchgate.db") == 0
    sent = {e.id for e in events if e.customer_id is None}
    assert set(central.event_ids()) == sent
    assert local_rows(tmp_path / "touchgate.db", "SELECT value FROM state WHERE key = 'sync.count.sent'") == [(str(QUEUED),)]

    again = run_touchgate(["sync", "drain", "--config", str(config), "--json"])
    assert again.code == 0 and '"sent": 0' in again.stdout and '"end": "empty"' in again.stdout


def test_drain_draws_a_bar_on_a_terminal(central: Central, tmp_path: Path) -> None:
    config = write_config(tmp_path, sync_config(central.url))
    queue_events(tmp_path / "touchgate.db", QUEUED)
    run = run_touchgate(["sync", "drain", "--config", str(config)], terminal=True)
    assert run.code == 0, run.stderr
    assert "drain" in run.stderr and "100%" in run.stderr and f"{QUEUED}/{QUEUED}" in run.stderr
    assert run.stdout.startswith(f"sent {QUEUED},")  # the bar never mixes into standard output
    assert len(central.event_ids()) == QUEUED


def test_drain_times_out_while_the_service_is_down(tmp_path: Path) -> None:
    config = write_config(tmp_path, sync_config(f"http://127.0.0.1:{free_port()}"))  # nobody listens
    queue_events(tmp_path / "touchgate.db", 20)
    started = time.monotonic()
    run = run_touchgate(["sync", "drain", "--config", str(config), "--timeout", "1.5"])
    assert run.code == 1
    assert "timed out after 1.5s" in run.stderr and "last error" in run.stderr
    assert time.monotonic() - started < 20
    assert run.stdout.strip() == "sent 0, rejected 0, purged 0; 20 left in the outbox"
    assert outbox_count(tmp_path / "touchgate.db") == 20


def test_drain_stops_when_the_service_refuses_us(central: Central, tmp_path: Path) -> None:
    config = write_config(tmp_path, sync_config(central.url, token="not-our-token"))
    queue_events(tmp_path / "touchgate.db", 20)
    run = run_touchgate(["sync", "drain", "--config", str(config), "--timeout", "30"])
    assert run.code == 1
    assert "refused our requests (HTTP 401)" in run.stderr
    assert outbox_count(tmp_path / "touchgate.db") == 20 and central.event_ids() == []


def test_drain_needs_a_central_service(tmp_path: Path) -> None:
    config = write_config(tmp_path, {})
    run = run_touchgate(["sync", "drain", "--config", str(config)])
    assert run.code == 1 and "sync.url is not set" in run.stderr


def test_a_relative_ca_file_is_found_beside_the_config(
    tls_central: tuple[ProfileServiceProcess, Path], tmp_path: Path
) -> None:
    """HTTPS with the CA named relative to the config file, the command started elsewhere."""
    service, ca = tls_central
    assert service.url is not None
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "central-ca.pem").write_bytes(ca.read_bytes())
    config = write_config(folder, sync_config(service.url, ca_file="central-ca.pem"), store="data/touchgate.db")
    queue_events(folder / "data" / "touchgate.db", 10)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = run_touchgate(["sync", "drain", "--config", str(config), "--timeout", "30"], cwd=elsewhere)
    assert run.code == 0, run.stderr
    assert outbox_count(folder / "data" / "touchgate.db") == 0


@pytest.mark.parametrize("written", ["central-ca.pem", "certs/central-ca.pem"])
def test_relative_ca_file_is_anchored_at_the_config_folder(tmp_path: Path, written: str) -> None:
    from gateway.config.settings import load_settings

    config = write_config(tmp_path / "etc", {"url": "https://central.example.com", "token": "t", "ca_file": written})
    assert load_settings(config).sync.ca_file == tmp_path / "etc" / written
    absolute = str(tmp_path / "ca.pem")
    config = write_config(tmp_path / "etc", {"url": "https://central.example.com", "token": "t", "ca_file": absolute})
    assert load_settings(config).sync.ca_file == Path(absolute)


def test_events_queued_before_the_kind_column_get_their_kind(tmp_path: Path) -> None:
    """Schema v4 adds outbox.kind; rows already queued by an older gateway take it from their body."""
    path = tmp_path / "touchgate.db"
    db = connect(path)
    db.conn.execute("ALTER TABLE outbox DROP COLUMN kind")  # the table as v3 left it
    db.conn.execute("DROP TABLE rule_footfall")  # added by v5
    db.conn.execute("DROP TABLE analytics_hours")  # added by v8
    db.conn.execute("DROP TABLE analytics_series")  # added by v8
    for index in ("dead_letters_customer", "dead_letters_unscreened"):  # added by v9
        db.conn.execute(f"DROP INDEX {index}")
    for column in ("customer_pseudonym", "raw_state"):  # added by v9
        db.conn.execute(f"ALTER TABLE dead_letters DROP COLUMN {column}")
    db.conn.execute("PRAGMA user_version = 3")
    db.conn.executemany(
        "INSERT INTO outbox (event_id, enqueued_at, purpose, body, bytes) VALUES (?,?,?,?,?)",
        [("e1", 1.0, "analytics", '{"id":"e1","kind":"footfall"}', 29), ("e2", 2.0, "analytics", "not json", 8)],
    )
    db.conn.close()
    db = connect(path)  # migrates
    try:
        assert db.conn.execute("SELECT event_id, kind FROM outbox ORDER BY event_id").fetchall() == [("e1", "footfall"), ("e2", "")]
    finally:
        db.conn.close()
