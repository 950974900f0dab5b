"""The SQLite engine behind `ProfileStore`: the functions of `storage`, on one writer thread.

SQLite work runs on that one thread, off the event loop; one process owns the file.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from profile_service import storage
from profile_service.models import AttributeValue, ConsentIn, ErasureIn, EventIn, HeldErasure, Rejection, Seed
from profile_service.store import AnyChange

T = TypeVar("T")


class SqliteStore:
    def __init__(self, executor: ThreadPoolExecutor, conn: sqlite3.Connection) -> None:
        self._executor = executor
        self._conn = conn

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="profile-db")
        conn = await asyncio.get_running_loop().run_in_executor(executor, storage.connect, path)
        return cls(executor, conn)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, self._conn, *args)

    async def seed_if_empty(self, seed: Seed) -> int | None:
        return await self._call(storage.seed_if_empty, seed)

    async def counters(self) -> dict[str, int]:
        return await self._call(storage.counters)

    async def store_events(
        self, gateway_site: str, events: list[EventIn], known_customers_only: bool, invalid: int
    ) -> tuple[list[str], list[Rejection]]:
        return await self._call(storage.store_events, gateway_site, events, known_customers_only, invalid)

    async def changes_since(self, since: int, limit: int) -> tuple[list[AnyChange], int, bool]:
        return await self._call(storage.changes_since, since, limit)

    async def erase(self, requester: str, erasures: list[ErasureIn]) -> tuple[list[str], list[str]]:
        return await self._call(storage.erase, requester, erasures)

    async def held_erasures(self) -> list[HeldErasure]:
        return await self._call(storage.held_erasures)

    async def apply_seed(self, seed: Seed) -> int:
        return await self._call(storage.apply_seed, seed)

    async def admin_set_profile(self, customer_id: str, attributes: dict[str, AttributeValue]) -> None:
        await self._call(storage.admin_set_profile, customer_id, attributes)

    async def admin_set_consent(self, customer_id: str, consent: ConsentIn) -> None:
        await self._call(storage.admin_set_consent, customer_id, consent)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._conn.close)
        self._executor.shutdown(wait=True)
