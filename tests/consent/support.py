"""Helpers for the consent tests: device profiles with a customer for every purpose, payloads,
and reading the store."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from collections.abc import Callable
from typing import Any

import yaml

from gateway.config.settings import PROJECT_ROOT
from gateway.consent.inbox import ConsentInbox
from gateway.devices.normalise import Normaliser
from gateway.devices.registry import load_profiles
from gateway.model.deadletter import DeadLetter, DeadLetterReason
from gateway.model.inbound import InboundMessage

PURPOSES = ("service", "personalisation", "analytics", "marketing")
CARD_TOPIC = "tele/cardreader_kiosk1/SENSOR"


def write_profiles(directory: Path) -> Path:
    """The project's device profiles, plus a test app with one profile per purpose
    (topic testapp/<site>/<purpose>/<device>, customer id "app:<customer>") and an anonymous one."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in (PROJECT_ROOT / "device_profiles").glob("*.yaml"):
        shutil.copy(path, directory / path.name)
    resources = [
        {"name": "seq", "source": "seq", "type": "int", "required": True},
        {"name": "transcript", "source": "transcript", "type": "string"},
    ]
    for purpose in PURPOSES:
        profile = {
            "name": f"test-app-{purpose}",
            "manufacturer": "Touchgate tests",
            "model": "app",
            "topic": f"testapp/{{site}}/{purpose}/{{device}}",
            "kind": "app",
            "purpose": purpose,
            "customer": "customer",
            "customer_prefix": "app:",
            "resources": resources,
        }
        (directory / f"test-app-{purpose}.yaml").write_text(yaml.safe_dump(profile))
    anonymous = {
        "name": "test-app-anonymous",
        "manufacturer": "Touchgate tests",
        "model": "app",
        "topic": "testapp/{site}/anonymous/{device}",
        "kind": "app",
        "purpose": "analytics",
        "resources": resources[:1],
    }
    (directory / "test-app-anonymous.yaml").write_text(yaml.safe_dump(anonymous))
    return directory


def app_message(customer: str | None, purpose: str, seq: int, transcript: str | None = None) -> tuple[str, bytes]:
    payload: dict[str, Any] = {"seq": seq}
    if customer is None:
        return f"testapp/shop1/anonymous/app1", json.dumps(payload).encode()
    payload["customer"] = customer
    if transcript is not None:
        payload["transcript"] = transcript
    return f"testapp/shop1/{purpose}/app1", json.dumps(payload).encode()


def consent_message(customer_id: str, purposes: list[str], status: str, **extra: Any) -> tuple[str, bytes]:
    body = {"customer_id": customer_id, "purposes": purposes, "status": status, **extra}
    return "touchgate/shop1/consent", json.dumps(body).encode()


def rows(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def rows_mentioning(db_path: Path, text: str) -> dict[str, int]:
    """Rows in any table whose any column contains `text` (as text or bytes), per table: the
    erasure check that does not trust the schema."""
    conn = sqlite3.connect(db_path)
    found: dict[str, int] = {}
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            where = " OR ".join(f'instr(CAST("{c}" AS BLOB), ?) > 0' for c in columns)
            count = conn.execute(f'SELECT COUNT(*) FROM "{table}" WHERE {where}', (text.encode(),) * len(columns)).fetchone()[0]
            if count:
                found[table] = count
    finally:
        conn.close()
    return found


def consent_inbox(runtime: Any) -> ConsentInbox:
    """The consent part's inbox, found through the route its topic goes to (the service keeps no
    reference to it)."""
    route = runtime.mqtt.route_for("touchgate/any/consent")
    assert route is not None, "no consent route: is the consent part built?"
    inbox = getattr(route.handler, "__self__", None)
    assert isinstance(inbox, ConsentInbox)
    return inbox


def redacted_dead_letter(topic: str, raw: bytes, pseudonymise: Callable[[str], str], detail: str = "x", at: float = 1000.0) -> DeadLetter:
    """A dead letter as the gateway keeps it: through the normaliser's redaction (the project's
    profiles) with the store's pseudonymiser."""
    profiles, problems = load_profiles(PROJECT_ROOT / "device_profiles")
    assert not problems, problems
    normaliser = Normaliser(profiles, "shop1", 256 * 1024, 4096)
    normaliser.redactor.use_pseudonyms(pseudonymise)
    return normaliser.dead_letter(InboundMessage(topic, raw, 1, 0, at), DeadLetterReason.INVALID_JSON, detail)
