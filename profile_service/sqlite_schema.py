"""The SQLite file's schema, versioned like the gateway's: `PRAGMA user_version` counts the
scripts applied; append a script to change the schema, never edit one that has shipped.

A file made before versioning (user_version 0) holds exactly version 1: its `IF NOT EXISTS`
statements find everything in place.
"""

from __future__ import annotations

import sqlite3

_V1_INITIAL = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    gateway_site TEXT NOT NULL,
    site TEXT NOT NULL,
    customer_id TEXT,
    purpose TEXT NOT NULL,
    kind TEXT NOT NULL,
    received_at REAL NOT NULL,
    body TEXT NOT NULL,
    stored_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_customer ON events(customer_id) WHERE customer_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS customers (customer_id TEXT PRIMARY KEY, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS profiles (customer_id TEXT PRIMARY KEY, attributes TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS consents (
    customer_id TEXT NOT NULL, purpose TEXT NOT NULL, status TEXT NOT NULL, changed_at REAL NOT NULL,
    source TEXT NOT NULL, expires_at REAL, PRIMARY KEY (customer_id, purpose)
);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, customer_id TEXT NOT NULL, payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS erasures (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, gateway_site TEXT NOT NULL,
    requested_at REAL NOT NULL, received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS erased (customer_id TEXT PRIMARY KEY, erased_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

# Event and erasure ids are unique per sending site, as in PostgreSQL: keyed by id alone, one
# site could take ("squat") the ids another site's gateway will send, and its events would be
# acknowledged and never stored. Which site has seen which customer is kept for the erasure
# authority (profile_service.authority), filled from the events already held.
_V2_KEYS_PER_SITE = """
CREATE TABLE events_v2 (
    gateway_site TEXT NOT NULL,    -- the site whose token sent it
    id TEXT NOT NULL,              -- that site's event id: stored once per (site, id)
    site TEXT NOT NULL,
    customer_id TEXT,
    purpose TEXT NOT NULL,
    kind TEXT NOT NULL,
    received_at REAL NOT NULL,
    body TEXT NOT NULL,
    stored_at REAL NOT NULL,
    PRIMARY KEY (gateway_site, id)
);
INSERT INTO events_v2 SELECT gateway_site, id, site, customer_id, purpose, kind, received_at, body, stored_at FROM events;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;
CREATE INDEX events_customer ON events(customer_id) WHERE customer_id IS NOT NULL;

CREATE TABLE erasures_v2 (
    gateway_site TEXT NOT NULL, id TEXT NOT NULL, customer_id TEXT NOT NULL,
    requested_at REAL NOT NULL, received_at REAL NOT NULL,
    outcome TEXT NOT NULL,         -- profile_service.authority.ErasureOutcome
    PRIMARY KEY (gateway_site, id)
);
INSERT INTO erasures_v2 SELECT gateway_site, id, customer_id, requested_at, received_at, 'erased' FROM erasures;
DROP TABLE erasures;
ALTER TABLE erasures_v2 RENAME TO erasures;

CREATE TABLE customer_sites (
    customer_id TEXT NOT NULL, gateway_site TEXT NOT NULL, first_seen REAL NOT NULL,
    PRIMARY KEY (customer_id, gateway_site)
);
INSERT INTO customer_sites SELECT customer_id, gateway_site, MIN(stored_at) FROM events
    WHERE customer_id IS NOT NULL GROUP BY customer_id, gateway_site;
"""

MIGRATIONS: list[str] = [_V1_INITIAL, _V2_KEYS_PER_SITE]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the file's schema up to date (each script in one transaction with its version);
    returns the version now in place. `conn` is in autocommit mode (isolation_level None)."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > len(MIGRATIONS):
        raise RuntimeError(f"the database has schema version {current}; this program knows up to {len(MIGRATIONS)}")
    for version, script in enumerate(MIGRATIONS, start=1):
        if version <= current:
            continue
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")  # the file stays at the version before, whole
            raise
    return len(MIGRATIONS)
