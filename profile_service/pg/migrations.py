"""Forward-only schema migrations of the PostgreSQL store, numbered in `schema_migrations`.

Append a new script to MIGRATIONS to change the schema; never edit one that has shipped. Workers
starting together migrate under one advisory lock, so each script runs once, in its own
transaction together with its version row.
"""

from __future__ import annotations

import asyncpg

from profile_service.pg.locks import MIGRATIONS_LOCK

_V1_INITIAL = """
-- Events, partitioned by the gateway's receive time (one partition a day, made on demand and
-- ahead of time; dropped whole by retention). A redelivered event carries the same received_at,
-- so it lands in the same partition and the key (gateway_site, id, received_at) makes it
-- idempotent by (site, event id) with a native unique index.
CREATE TABLE events (
    gateway_site text NOT NULL,          -- the site whose token sent it
    id text NOT NULL,                    -- the gateway's event id (UUIDv7)
    received_at timestamptz NOT NULL,
    site text NOT NULL,
    customer_id text,
    purpose text NOT NULL,
    kind text NOT NULL,
    body text NOT NULL,                  -- the event's JSON as validated
    stored_at timestamptz NOT NULL,
    PRIMARY KEY (gateway_site, id, received_at)
) PARTITION BY RANGE (received_at);
CREATE INDEX events_customer ON events (customer_id) WHERE customer_id IS NOT NULL;
-- Strays (clock far off, or older than the partition window) land here; retention deletes rows.
CREATE TABLE events_default PARTITION OF events DEFAULT;

CREATE TABLE customers (customer_id text PRIMARY KEY, created_at double precision NOT NULL);
CREATE TABLE profiles (
    customer_id text PRIMARY KEY, attributes jsonb NOT NULL, updated_at double precision NOT NULL
);
CREATE TABLE consents (
    customer_id text NOT NULL, purpose text NOT NULL, status text NOT NULL, changed_at double precision NOT NULL,
    source text NOT NULL, expires_at double precision, PRIMARY KEY (customer_id, purpose)
);
-- The feed of GET /v1/changes: seq comes from changes_seq, taken under the changes lock so that
-- seq order is commit order (a reader never sees seq n+1 before n).
CREATE SEQUENCE changes_seq;
CREATE TABLE changes (
    seq bigint PRIMARY KEY, type text NOT NULL, customer_id text NOT NULL, payload text NOT NULL
);
CREATE INDEX changes_customer ON changes (customer_id);
CREATE TABLE erasures (
    gateway_site text NOT NULL, id text NOT NULL, customer_id text NOT NULL,
    requested_at double precision NOT NULL, received_at double precision NOT NULL,
    PRIMARY KEY (gateway_site, id)
);
CREATE TABLE erased (customer_id text PRIMARY KEY, erased_at double precision NOT NULL);
-- Counters are spread over shards (summed when read): concurrent batches rarely wait on one row.
CREATE TABLE counters (name text NOT NULL, shard int NOT NULL, value bigint NOT NULL, PRIMARY KEY (name, shard));
"""

# The erasure authority (profile_service.authority): which site has seen which customer (filled
# from the events held), and each erasure request's outcome (held ones wait for the officer).
_V2_ERASURE_AUTHORITY = """
ALTER TABLE erasures ADD COLUMN outcome text NOT NULL DEFAULT 'erased';
ALTER TABLE erasures ALTER COLUMN outcome DROP DEFAULT;
CREATE INDEX erasures_held ON erasures (received_at) WHERE outcome = 'held';
CREATE TABLE customer_sites (
    customer_id text NOT NULL, gateway_site text NOT NULL, first_seen double precision NOT NULL,
    PRIMARY KEY (customer_id, gateway_site)
);
INSERT INTO customer_sites SELECT customer_id, gateway_site, MIN(extract(epoch FROM stored_at)) FROM events
    WHERE customer_id IS NOT NULL GROUP BY customer_id, gateway_site;
"""

MIGRATIONS: list[str] = [_V1_INITIAL, _V2_ERASURE_AUTHORITY]


async def migrate(conn: asyncpg.Connection) -> int:
    """Bring the schema up to date; returns the version now in place."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *MIGRATIONS_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        current = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
    for version, script in enumerate(MIGRATIONS, start=1):
        if version <= current:
            continue
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *MIGRATIONS_LOCK)
            if await conn.fetchval("SELECT 1 FROM schema_migrations WHERE version = $1", version):
                continue  # another worker was first
            await conn.execute(script)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
    return len(MIGRATIONS)
