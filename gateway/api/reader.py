"""Read-only queries off the store's writer thread.

The store runs every write on its one thread; a status read that counts a large events table
(tens of milliseconds at a million rows) would hold commits back if it ran there too. In WAL mode
readers never block the writer, so the operator surface reads through its own short-lived
read-only connection, and sees every committed batch.

The reads run on one thread of the reader's own, with a small page cache. Each connection's page
cache (SQLite's default: up to 2000 KiB) is memory the C allocator hands out to the thread that
opens it, and keeps in that thread's arena for reuse after the connection closes. On asyncio's
default executor (up to cores + 4 threads, more started whenever two calls overlap), every new
thread that ran a snapshot kept another ~2 MiB: the steps of RSS the soak measured
(docs/reliability.md). One thread reuses the same memory for every read, and a read-once query gets
nothing from a large cache.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from gateway.store.operator_rows import open_read_only

T = TypeVar("T")

# KiB of page cache per read connection; the queries read each page about once.
READ_CACHE_KIB = 256


class StoreReader:
    def __init__(self, path: Path, cache_kib: int = READ_CACHE_KIB) -> None:
        self.path = path
        self._cache_kib = cache_kib
        # The thread starts with the first read and ends with `close` (or with the reader).
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-reader")

    async def call(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._run, fn)

    def _run(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        db = open_read_only(self.path)
        try:
            db.conn.execute(f"PRAGMA cache_size = -{int(self._cache_kib)}")
            return fn(db)
        finally:
            db.conn.close()

    async def run(self) -> None:
        """Holds the reader's thread for the gateway's lifetime; cancelled, lets it go."""
        try:
            await asyncio.Event().wait()
        finally:
            self.close()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
