"""Read-only queries off the store's writer thread.

The store runs every write on its one thread; a status read that counts a large events table
(tens of milliseconds at a million rows) would hold commits back if it ran there too. In WAL mode
readers never block the writer, so the operator surface reads through its own short-lived
read-only connection in a worker thread, and sees every committed batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from gateway.store.operator_rows import open_read_only

T = TypeVar("T")


class StoreReader:
    def __init__(self, path: Path) -> None:
        self.path = path

    async def call(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        return await asyncio.to_thread(self._run, fn)

    def _run(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        db = open_read_only(self.path)
        try:
            return fn(db)
        finally:
            db.conn.close()
