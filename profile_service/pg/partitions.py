"""Day partitions of `events`: made on demand (and a few days ahead), dropped whole by retention.

A partition covers one UTC day of the gateway's `received_at`. Only days inside a window get a
partition of their own (from the retention horizon, or WINDOW_BACK_DAYS without retention, up
to AHEAD_DAYS ahead): a gateway with a wild clock cannot make thousands of tables; its events go
to `events_default`, whose rows retention deletes one by one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime

import asyncpg

from profile_service.pg.locks import MAINTENANCE_LOCK, PARTITIONS_LOCK

log = logging.getLogger(__name__)

DAY_S = 86_400
AHEAD_DAYS = 2
WINDOW_BACK_DAYS = 31
_NAME = re.compile(r"^events_p(\d{8})$")


def day_of(ts: float) -> int:
    return int(ts // DAY_S)


def partition_name(day: int) -> str:
    return f"events_p{datetime.fromtimestamp(day * DAY_S, UTC):%Y%m%d}"


def _bound(day: int) -> str:
    return f"{datetime.fromtimestamp(day * DAY_S, UTC):%Y-%m-%d} 00:00:00+00"


def day_of_name(name: str) -> int | None:
    match = _NAME.match(name)
    if match is None:
        return None
    return day_of(datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC).timestamp())


class Partitions:
    def __init__(self, pool: asyncpg.Pool, retention_days: int | None) -> None:
        self._pool = pool
        self._retention_days = retention_days
        self._known: set[int] = set()  # days whose partition exists (this worker has seen it)

    def horizon_day(self, now: float) -> int | None:
        """Days before this one are past retention (their partitions are dropped)."""
        return None if self._retention_days is None else day_of(now) - self._retention_days

    def _in_window(self, day: int, now: float) -> bool:
        back = self._retention_days if self._retention_days is not None else WINDOW_BACK_DAYS
        return day_of(now) - back <= day <= day_of(now) + AHEAD_DAYS

    async def ensure(self, days: Iterable[int], now: float) -> None:
        """Every day in the window among `days` has its partition before a batch is inserted."""
        for day in sorted(set(days) - self._known):
            if self._in_window(day, now):
                await self._create(day)

    async def _create(self, day: int) -> None:
        name = partition_name(day)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *PARTITIONS_LOCK)
            if await conn.fetchval("SELECT to_regclass($1)", name) is None:
                low, high = _bound(day), _bound(day + 1)
                # Rows of that day may wait in the default partition (it was outside the window
                # when they came): move them, else attaching the new partition would fail.
                await conn.execute(f"CREATE TABLE {name} (LIKE events INCLUDING DEFAULTS)")
                await conn.execute(
                    f"WITH moved AS (DELETE FROM events_default WHERE received_at >= '{low}' AND received_at < '{high}'"
                    f" RETURNING *) INSERT INTO {name} SELECT * FROM moved"
                )
                await conn.execute(f"ALTER TABLE events ATTACH PARTITION {name} FOR VALUES FROM ('{low}') TO ('{high}')")
                log.info("created partition %s", name)
        self._known.add(day)

    async def maintain(self, now: float) -> list[str]:
        """Make the coming days' partitions and drop those past retention; one worker at a time
        (the others skip the round). Returns the partitions dropped."""
        await self.ensure(range(day_of(now), day_of(now) + AHEAD_DAYS + 1), now)
        horizon = self.horizon_day(now)
        if horizon is None:
            return []
        dropped: list[str] = []
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1, $2)", *MAINTENANCE_LOCK):
                return []
            names = await conn.fetch(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'events'::regclass"
            )
            for (name,) in names:
                day = day_of_name(name)
                if day is not None and day < horizon:
                    await conn.execute(f"DROP TABLE {name}")
                    self._known.discard(day)
                    dropped.append(name)
            await conn.execute("DELETE FROM events_default WHERE received_at < $1", datetime.fromtimestamp(horizon * DAY_S, UTC))
        if dropped:
            log.info("retention dropped partitions %s", ", ".join(dropped))
        return dropped
