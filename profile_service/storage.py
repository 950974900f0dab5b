"""The reference service's SQLite file (the embedded engine; `sqlite_store` wraps it): events
(unique per sending site and id), customers, profiles, consents, erasures, which site has seen
which customer, and the numbered change log the gateways pull from (schema: `sqlite_schema`).

Every function takes the connection and runs on the service's single writer thread.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from profile_service.authority import ErasureOutcome, decide
from profile_service.models import (
    AttributeValue,
    ConsentChange,
    ConsentIn,
    ErasureChange,
    ErasureIn,
    EventIn,
    HeldErasure,
    ProfileChange,
    Rejection,
    Seed,
)
from profile_service.sqlite_schema import migrate



def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # an accepted id is on disk before we say so
    conn.execute("PRAGMA busy_timeout=30000")
    migrate(conn)
    return conn


class _Tx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _bump(conn: sqlite3.Connection, name: str, by: int) -> None:
    if by:
        conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + ?",
            (name, by, by),
        )


def is_empty(conn: sqlite3.Connection) -> bool:
    """True for a new database (the seed file is applied once, not at every start)."""
    return conn.execute("SELECT (SELECT COUNT(*) FROM changes) + (SELECT COUNT(*) FROM erased)").fetchone()[0] == 0


def counters(conn: sqlite3.Connection) -> dict[str, int]:
    return {name: int(value) for name, value in conn.execute("SELECT name, value FROM counters")}


def store_events(
    conn: sqlite3.Connection,
    gateway_site: str,
    events: list[EventIn],
    known_customers_only: bool,
    invalid: int = 0,
) -> tuple[list[str], list[Rejection]]:
    """Store valid events once each; an id seen before is accepted again (idempotency) and
    counted as a redelivery. Events of erased (or, if required, unknown) customers are rejected.
    `invalid`: events the caller already rejected (failed validation), counted with these."""
    accepted: list[str] = []
    rejected: list[Rejection] = []
    now = time.time()
    with _Tx(conn):
        customers = {e.customer_id for e in events if e.customer_id is not None}
        erased = _existing(conn, "erased", customers)
        known = _existing(conn, "customers", customers)
        rows = []
        for e in events:
            if e.customer_id is not None and e.customer_id in erased:
                rejected.append(Rejection(id=e.id, reason="customer_erased"))
                continue
            if e.customer_id is not None and e.customer_id not in known:
                if known_customers_only:
                    rejected.append(Rejection(id=e.id, reason="unknown_customer"))
                    continue
                conn.execute("INSERT OR IGNORE INTO customers (customer_id, created_at) VALUES (?, ?)", (e.customer_id, now))
                known.add(e.customer_id)
            rows.append(
                (e.id, gateway_site, e.site, e.customer_id, e.purpose, e.kind, e.received_at,
                 e.model_dump_json(), now)
            )
            accepted.append(e.id)
        conn.executemany(
            "INSERT OR IGNORE INTO customer_sites (customer_id, gateway_site, first_seen) VALUES (?, ?, ?)",
            [(cid, gateway_site, now) for cid in sorted({row[3] for row in rows if row[3] is not None})],
        )
        before = conn.total_changes
        conn.executemany(
            "INSERT OR IGNORE INTO events (id, gateway_site, site, customer_id, purpose, kind, received_at, body,"
            " stored_at) VALUES (?,?,?,?,?,?,?,?,?)",
            rows,
        )
        stored = conn.total_changes - before
        _bump(conn, "events_stored", stored)
        _bump(conn, "events_redelivered", len(rows) - stored)
        _bump(conn, "events_rejected", len(rejected) + invalid)
    return accepted, rejected


def _existing(conn: sqlite3.Connection, table: str, customers: Iterable[str]) -> set[str]:
    ids = list(customers)
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(r[0] for r in conn.execute(f"SELECT customer_id FROM {table} WHERE customer_id IN ({marks})", chunk))
    return found


def _log_change(conn: sqlite3.Connection, change_type: str, customer_id: str, payload: dict[str, object]) -> None:
    conn.execute(
        "INSERT INTO changes (type, customer_id, payload) VALUES (?, ?, ?)",
        (change_type, customer_id, json.dumps(payload, separators=(",", ":"))),
    )


def set_profile(conn: sqlite3.Connection, customer_id: str, attributes: dict[str, AttributeValue], at: float) -> None:
    """Merge attributes into the customer's profile and log the change (only what changed)."""
    row = conn.execute("SELECT attributes FROM profiles WHERE customer_id = ?", (customer_id,)).fetchone()
    merged = {**(json.loads(row[0]) if row else {}), **attributes}
    conn.execute("INSERT OR IGNORE INTO customers (customer_id, created_at) VALUES (?, ?)", (customer_id, at))
    conn.execute("DELETE FROM erased WHERE customer_id = ?", (customer_id,))
    conn.execute(
        "INSERT INTO profiles (customer_id, attributes, updated_at) VALUES (?, ?, ?) ON CONFLICT(customer_id)"
        " DO UPDATE SET attributes = excluded.attributes, updated_at = excluded.updated_at",
        (customer_id, json.dumps(merged), at),
    )
    _log_change(conn, "profile", customer_id, {"attributes": attributes, "changed_at": at})


def set_consent(conn: sqlite3.Connection, customer_id: str, consent: ConsentIn) -> None:
    conn.execute("INSERT OR IGNORE INTO customers (customer_id, created_at) VALUES (?, ?)", (customer_id, consent.changed_at))
    conn.execute("DELETE FROM erased WHERE customer_id = ?", (customer_id,))
    conn.execute(
        "INSERT INTO consents (customer_id, purpose, status, changed_at, source, expires_at) VALUES (?,?,?,?,?,?)"
        " ON CONFLICT(customer_id, purpose) DO UPDATE SET status = excluded.status, changed_at = excluded.changed_at,"
        " source = excluded.source, expires_at = excluded.expires_at",
        (customer_id, consent.purpose, consent.status.value, consent.changed_at, consent.source, consent.expires_at),
    )
    _log_change(conn, "consent", customer_id, consent.model_dump(mode="json"))


def apply_seed(conn: sqlite3.Connection, seed: Seed) -> int:
    """Create or update the seeded customers; each profile and consent becomes a change."""
    with _Tx(conn):
        _apply_seed(conn, seed)
    return len(seed.customers)


def seed_if_empty(conn: sqlite3.Connection, seed: Seed) -> int | None:
    """The seed file is applied to a new database once, not at every start."""
    with _Tx(conn):
        if not is_empty(conn):
            return None
        _apply_seed(conn, seed)
    return len(seed.customers)


def _apply_seed(conn: sqlite3.Connection, seed: Seed) -> None:
    now = time.time()
    for customer in seed.customers:
        conn.execute(
            "INSERT OR IGNORE INTO customers (customer_id, created_at) VALUES (?, ?)", (customer.customer_id, now)
        )
        if customer.profile:
            set_profile(conn, customer.customer_id, customer.profile, now)
        for consent in customer.consents:
            set_consent(conn, customer.customer_id, consent)


def changes_since(conn: sqlite3.Connection, since: int, limit: int) -> tuple[list[ProfileChange | ConsentChange | ErasureChange], int, bool]:
    rows = conn.execute(
        "SELECT seq, type, customer_id, payload FROM changes WHERE seq > ? ORDER BY seq LIMIT ?", (since, limit + 1)
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    out: list[ProfileChange | ConsentChange | ErasureChange] = []
    for seq, change_type, customer_id, payload in rows:
        data = {"seq": seq, "customer_id": customer_id, **json.loads(payload)}
        if change_type == "profile":
            out.append(ProfileChange(**data))
        elif change_type == "consent":
            out.append(ConsentChange(**data))
        else:
            out.append(ErasureChange(**data))
    # An empty page keeps the cursor where it was, so nothing is skipped.
    cursor = rows[-1][0] if rows else since
    return out, cursor, more


def erase(conn: sqlite3.Connection, requester: str, erasures: list[ErasureIn]) -> tuple[list[str], list[str]]:
    """Each erasure `requester` (a site, or the privacy officer) asks for, as the authority rules
    decide (profile_service.authority): applied (everything held about the customer deleted, a
    tombstone kept so later events are rejected, earlier changes dropped from the feed and the
    erasure announced on it), or held for the privacy officer. Every request is kept with its
    outcome. Returns (accepted, held): all ids are accepted; a retried id keeps its first outcome."""
    now = time.time()
    accepted: list[str] = []
    held: list[str] = []
    with _Tx(conn):
        for erasure in erasures:
            accepted.append(erasure.id)
            cid = erasure.customer_id
            first = conn.execute(
                "SELECT outcome FROM erasures WHERE gateway_site = ? AND id = ?", (requester, erasure.id)
            ).fetchone()
            if first is None:
                seen = conn.execute(
                    "SELECT 1 FROM customer_sites WHERE customer_id = ? AND gateway_site = ?", (cid, requester)
                ).fetchone()
                erased = conn.execute("SELECT 1 FROM erased WHERE customer_id = ?", (cid,)).fetchone()
                outcome = decide(requester, seen is not None, erased is not None)
                conn.execute(
                    "INSERT INTO erasures (gateway_site, id, customer_id, requested_at, received_at, outcome)"
                    " VALUES (?,?,?,?,?,?)",
                    (requester, erasure.id, cid, erasure.requested_at, now, outcome.value),
                )
                if outcome is ErasureOutcome.ERASED:
                    _erase_customer(conn, cid, requester, now)
            else:
                outcome = ErasureOutcome(first[0])  # idempotent: a retried erasure keeps its outcome
            if outcome is ErasureOutcome.HELD:
                held.append(erasure.id)
        _bump(conn, "erasures_received", len(erasures))
    return accepted, held


def _erase_customer(conn: sqlite3.Connection, cid: str, origin: str, now: float) -> None:
    for table in ("events", "profiles", "consents", "customers", "customer_sites", "changes"):
        conn.execute(f"DELETE FROM {table} WHERE customer_id = ?", (cid,))
    conn.execute("INSERT OR REPLACE INTO erased (customer_id, erased_at) VALUES (?, ?)", (cid, now))
    _log_change(conn, "erasure", cid, {"changed_at": now, "origin_site": origin})


def held_erasures(conn: sqlite3.Connection) -> list[HeldErasure]:
    """Erasures held for the privacy officer whose customer is not erased yet, oldest first."""
    rows = conn.execute(
        "SELECT gateway_site, id, customer_id, requested_at, received_at FROM erasures WHERE outcome = ?"
        " AND customer_id NOT IN (SELECT customer_id FROM erased) ORDER BY received_at",
        (ErasureOutcome.HELD.value,),
    ).fetchall()
    return [HeldErasure(site=r[0], id=r[1], customer_id=r[2], requested_at=r[3], received_at=r[4]) for r in rows]


def admin_set_profile(conn: sqlite3.Connection, customer_id: str, attributes: dict[str, AttributeValue]) -> None:
    with _Tx(conn):
        set_profile(conn, customer_id, attributes, time.time())


def admin_set_consent(conn: sqlite3.Connection, customer_id: str, consent: ConsentIn) -> None:
    with _Tx(conn):
        set_consent(conn, customer_id, consent)
