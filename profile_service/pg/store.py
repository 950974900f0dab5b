"""The PostgreSQL engine behind `ProfileStore` (asyncpg pool).

Workers hold no state but their pool and a cache of which partitions exist: everything they
agree on lives in the database. A batch is one transaction and one INSERT of all its rows
(from one JSON array, ON CONFLICT DO NOTHING on the (site, id, received_at) key), so a worker
killed mid-batch leaves either the whole batch or none of it; the gateway retries what was not
acknowledged and the key makes the retry store nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Iterable

import asyncpg
from pydantic import TypeAdapter

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
from profile_service.pg.locks import (
    CHANGES_LOCK,
    CUSTOMER_NAMESPACE,
    LOCK_CUSTOMERS,
    LOCK_CUSTOMERS_SHARED,
    SEED_LOCK,
)
from profile_service.pg.migrations import migrate
from profile_service.pg.partitions import Partitions, day_of
from profile_service.settings import ServiceSettings
from profile_service.store import AnyChange

log = logging.getLogger(__name__)

COUNTER_SHARDS = 16

# The batch travels as one JSON array (serialised by pydantic in one call); PostgreSQL takes it
# apart. Each row's body is its element's text, exactly as validated.
_INSERT_EVENTS = """
WITH stored AS (
    INSERT INTO events (gateway_site, id, received_at, site, customer_id, purpose, kind, body, stored_at)
    SELECT $1, e->>'id', to_timestamp((e->>'received_at')::float8), e->>'site', e->>'customer_id', e->>'purpose',
           e->>'kind', e::text, to_timestamp($2)
    FROM json_array_elements($3::json) AS e
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM stored
"""
_EVENT_LIST: TypeAdapter[list[EventIn]] = TypeAdapter(list[EventIn])


class PostgresStore:
    def __init__(self, pool: asyncpg.Pool, partitions: Partitions, maintenance: asyncio.Task[None]) -> None:
        self._pool = pool
        self._partitions = partitions
        self._maintenance = maintenance

    @classmethod
    async def open(cls, settings: ServiceSettings) -> PostgresStore:
        assert settings.database_url is not None
        pool = await asyncpg.create_pool(str(settings.database_url), min_size=1, max_size=settings.pool_max_size)
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
            partitions = Partitions(pool, settings.event_retention_days)
            await partitions.maintain(time.time())
        except BaseException:
            await pool.close()
            raise
        task = asyncio.create_task(_maintain_forever(partitions, settings.maintenance_interval_s))
        return cls(pool, partitions, task)

    async def close(self) -> None:
        self._maintenance.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._maintenance
        await self._pool.close()

    async def maintain(self, now: float) -> list[str]:
        """One round of partition upkeep (also run every maintenance_interval_s); the partitions dropped."""
        return await self._partitions.maintain(now)

    async def seed_if_empty(self, seed: Seed) -> int | None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *SEED_LOCK)
            if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM changes) OR EXISTS (SELECT 1 FROM erased)"):
                return None
            await _apply_seed(conn, seed)
        return len(seed.customers)

    async def apply_seed(self, seed: Seed) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            await _apply_seed(conn, seed)
        return len(seed.customers)

    async def counters(self) -> dict[str, int]:
        rows = await self._pool.fetch("SELECT name, SUM(value)::bigint FROM counters GROUP BY name")
        return {name: int(value) for name, value in rows}

    async def store_events(
        self, gateway_site: str, events: list[EventIn], known_customers_only: bool, invalid: int
    ) -> tuple[list[str], list[Rejection]]:
        now = time.time()
        horizon = self._partitions.horizon_day(now)
        rejected: list[Rejection] = []
        if horizon is not None:
            # Stored now, it would be dropped at the next maintenance: say so instead.
            rejected = [Rejection(id=e.id, reason="past_retention") for e in events if day_of(e.received_at) < horizon]
            late = {r.id for r in rejected}
            events = [e for e in events if e.id not in late]
        await self._partitions.ensure({day_of(e.received_at) for e in events}, now)
        customers = sorted({e.customer_id for e in events if e.customer_id is not None})
        accepted: list[str] = []
        async with self._pool.acquire() as conn, conn.transaction():
            erased: set[str] = set()
            known: set[str] = set()
            if customers:
                await conn.execute(LOCK_CUSTOMERS_SHARED, CUSTOMER_NAMESPACE, customers)
                erased = await _existing(conn, "erased", customers)
                known = await _existing(conn, "customers", customers)
            rows: list[EventIn] = []
            new_customers: set[str] = set()
            for e in events:
                cid = e.customer_id
                if cid is not None and cid in erased:
                    rejected.append(Rejection(id=e.id, reason="customer_erased"))
                    continue
                if cid is not None and cid not in known:
                    if known_customers_only:
                        rejected.append(Rejection(id=e.id, reason="unknown_customer"))
                        continue
                    new_customers.add(cid)
                rows.append(e)
                accepted.append(e.id)
            if new_customers:
                await conn.execute(
                    "INSERT INTO customers (customer_id, created_at) SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING",
                    sorted(new_customers), now,
                )
            stored = 0
            if rows:
                stored = await conn.fetchval(_INSERT_EVENTS, gateway_site, now, _EVENT_LIST.dump_json(rows).decode())
            seen = sorted({e.customer_id for e in rows if e.customer_id is not None})
            if seen:  # sorted: concurrent batches take the key locks in one order
                await conn.execute(
                    "INSERT INTO customer_sites (customer_id, gateway_site, first_seen) SELECT unnest($1::text[]), $2, $3"
                    " ON CONFLICT DO NOTHING",
                    seen, gateway_site, now,
                )
            await _bump(conn, {
                "events_stored": stored,
                "events_redelivered": len(rows) - stored,
                "events_rejected": len(rejected) + invalid,
            })
        return accepted, rejected

    async def changes_since(self, since: int, limit: int) -> tuple[list[AnyChange], int, bool]:
        rows = await self._pool.fetch(
            "SELECT seq, type, customer_id, payload FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2", since, limit + 1
        )
        more = len(rows) > limit
        rows = rows[:limit]
        out: list[AnyChange] = []
        for seq, change_type, customer_id, payload in rows:
            data = {"seq": seq, "customer_id": customer_id, **json.loads(payload)}
            if change_type == "profile":
                out.append(ProfileChange(**data))
            elif change_type == "consent":
                out.append(ConsentChange(**data))
            else:
                out.append(ErasureChange(**data))
        # An empty page keeps the cursor where it was, so nothing is skipped.
        return out, (rows[-1][0] if rows else since), more

    async def erase(self, requester: str, erasures: list[ErasureIn]) -> tuple[list[str], list[str]]:
        """Apply or hold each erasure as the authority decides (profile_service.authority); an
        applied one deletes everything held about the customer, keeps a tombstone, drops their
        earlier changes and is announced on the feed. A retried id keeps its first outcome."""
        now = time.time()
        held: list[str] = []
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(LOCK_CUSTOMERS, CUSTOMER_NAMESPACE, sorted({e.customer_id for e in erasures}))
            changes_locked = False
            for erasure in erasures:
                cid = erasure.customer_id
                first = await conn.fetchval(
                    "SELECT outcome FROM erasures WHERE gateway_site = $1 AND id = $2", requester, erasure.id
                )
                if first is not None:
                    if first == ErasureOutcome.HELD:
                        held.append(erasure.id)
                    continue  # idempotent: a retried erasure keeps its outcome
                seen = await conn.fetchval(
                    "SELECT 1 FROM customer_sites WHERE customer_id = $1 AND gateway_site = $2", cid, requester
                )
                erased = await conn.fetchval("SELECT 1 FROM erased WHERE customer_id = $1", cid)
                outcome = decide(requester, seen is not None, erased is not None)
                await conn.execute(
                    "INSERT INTO erasures (gateway_site, id, customer_id, requested_at, received_at, outcome)"
                    " VALUES ($1,$2,$3,$4,$5,$6)",
                    requester, erasure.id, cid, erasure.requested_at, now, outcome.value,
                )
                if outcome is ErasureOutcome.HELD:
                    held.append(erasure.id)
                if outcome is not ErasureOutcome.ERASED:
                    continue
                for table in ("events", "profiles", "consents", "customers", "customer_sites", "changes"):
                    await conn.execute(f"DELETE FROM {table} WHERE customer_id = $1", cid)
                await conn.execute(
                    "INSERT INTO erased (customer_id, erased_at) VALUES ($1, $2)"
                    " ON CONFLICT (customer_id) DO UPDATE SET erased_at = excluded.erased_at", cid, now,
                )
                if not changes_locked:
                    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *CHANGES_LOCK)
                    changes_locked = True
                await _log_change(conn, "erasure", cid, {"changed_at": now, "origin_site": requester})
            await _bump(conn, {"erasures_received": len(erasures)})
        return [e.id for e in erasures], held

    async def held_erasures(self) -> list[HeldErasure]:
        rows = await self._pool.fetch(
            "SELECT gateway_site, id, customer_id, requested_at, received_at FROM erasures WHERE outcome = 'held'"
            " AND NOT EXISTS (SELECT 1 FROM erased WHERE erased.customer_id = erasures.customer_id) ORDER BY received_at"
        )
        return [HeldErasure(site=r[0], id=r[1], customer_id=r[2], requested_at=r[3], received_at=r[4]) for r in rows]

    async def admin_set_profile(self, customer_id: str, attributes: dict[str, AttributeValue]) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(LOCK_CUSTOMERS, CUSTOMER_NAMESPACE, [customer_id])
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *CHANGES_LOCK)
            await _set_profile(conn, customer_id, attributes, time.time())

    async def admin_set_consent(self, customer_id: str, consent: ConsentIn) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(LOCK_CUSTOMERS, CUSTOMER_NAMESPACE, [customer_id])
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *CHANGES_LOCK)
            await _set_consent(conn, customer_id, consent)


async def _maintain_forever(partitions: Partitions, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await partitions.maintain(time.time())
        except (asyncpg.PostgresError, OSError) as exc:  # the next round tries again
            log.error("partition maintenance failed: %s", exc)


async def _existing(conn: asyncpg.Connection, table: str, customers: list[str]) -> set[str]:
    rows = await conn.fetch(f"SELECT customer_id FROM {table} WHERE customer_id = ANY($1::text[])", customers)
    return {r[0] for r in rows}


async def _bump(conn: asyncpg.Connection, amounts: dict[str, int]) -> None:
    names = sorted(name for name, by in amounts.items() if by)  # sorted: rows locked in one order
    if not names:
        return
    await conn.execute(
        "INSERT INTO counters (name, shard, value) SELECT n, $2, v FROM unnest($1::text[], $3::bigint[]) AS u(n, v)"
        " ON CONFLICT (name, shard) DO UPDATE SET value = counters.value + excluded.value",
        names, random.randrange(COUNTER_SHARDS), [amounts[n] for n in names],
    )


async def _log_change(conn: asyncpg.Connection, change_type: str, customer_id: str, payload: dict[str, object]) -> None:
    """The caller holds CHANGES_LOCK until it commits: seq order is then commit order."""
    await conn.execute(
        "INSERT INTO changes (seq, type, customer_id, payload) VALUES (nextval('changes_seq'), $1, $2, $3)",
        change_type, customer_id, json.dumps(payload, separators=(",", ":")),
    )


async def _revive(conn: asyncpg.Connection, customer_id: str, at: float) -> None:
    await conn.execute("INSERT INTO customers (customer_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING", customer_id, at)
    await conn.execute("DELETE FROM erased WHERE customer_id = $1", customer_id)


async def _set_profile(conn: asyncpg.Connection, customer_id: str, attributes: dict[str, AttributeValue], at: float) -> None:
    """Merge attributes into the customer's profile and log the change (only what changed)."""
    await _revive(conn, customer_id, at)
    await conn.execute(
        "INSERT INTO profiles (customer_id, attributes, updated_at) VALUES ($1, $2::jsonb, $3) ON CONFLICT (customer_id)"
        " DO UPDATE SET attributes = profiles.attributes || excluded.attributes, updated_at = excluded.updated_at",
        customer_id, json.dumps(attributes), at,
    )
    await _log_change(conn, "profile", customer_id, {"attributes": attributes, "changed_at": at})


async def _set_consent(conn: asyncpg.Connection, customer_id: str, consent: ConsentIn) -> None:
    await _revive(conn, customer_id, consent.changed_at)
    await conn.execute(
        "INSERT INTO consents (customer_id, purpose, status, changed_at, source, expires_at) VALUES ($1,$2,$3,$4,$5,$6)"
        " ON CONFLICT (customer_id, purpose) DO UPDATE SET status = excluded.status, changed_at = excluded.changed_at,"
        " source = excluded.source, expires_at = excluded.expires_at",
        customer_id, consent.purpose, consent.status.value, consent.changed_at, consent.source, consent.expires_at,
    )
    await _log_change(conn, "consent", customer_id, consent.model_dump(mode="json"))


async def _apply_seed(conn: asyncpg.Connection, seed: Seed) -> None:
    customers: Iterable[str] = sorted({c.customer_id for c in seed.customers})
    await conn.execute(LOCK_CUSTOMERS, CUSTOMER_NAMESPACE, list(customers))
    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *CHANGES_LOCK)
    now = time.time()
    for customer in seed.customers:
        await conn.execute(
            "INSERT INTO customers (customer_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING", customer.customer_id, now
        )
        if customer.profile:
            await _set_profile(conn, customer.customer_id, customer.profile, now)
        for consent in customer.consents:
            await _set_consent(conn, customer.customer_id, consent)
