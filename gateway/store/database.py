"""Opening the SQLite file and running work on its single writer thread.

All access goes through one connection on one thread: SQLite serialises writers anyway, and a
single owner means no lock contention and a natural place for group commit. The event loop awaits
`Store.call()`; while one batch commits, the next one accumulates.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from gateway.store.checkpoint import SQLITE_AUTOCHECKPOINT_PAGES, WalCheckpointer
from gateway.store.migrations import migrate

T = TypeVar("T")

_WAL_SIZE_LIMIT_BYTES = 4 * 1024 * 1024


def connect(path: Path) -> sqlite_utils.Database:
    """Open (and migrate) the database with the durability settings the design promises."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a batch is exactly one transaction.
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit survives power loss (NORMAL may lose the last ones in WAL mode).
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    # 1 MiB of page cache instead of SQLite's 2 MiB: ingest appends (UUIDv7 keys), touching only
    # the right edge of each B-tree, and the kernel's page cache keeps the rest of the file warm.
    # On a Pi the megabyte is better left to the system.
    conn.execute("PRAGMA cache_size=-1024")
    # When a checkpoint has copied the whole log, the log file is cut back to this on its next
    # reuse: a burst's log does not keep its disk space for the rest of the run.
    conn.execute(f"PRAGMA journal_size_limit={_WAL_SIZE_LIMIT_BYTES}")
    migrate(conn)
    return sqlite_utils.Database(conn)


class Transaction:
    """`with Transaction(db):` — BEGIN IMMEDIATE … COMMIT, ROLLBACK on any error."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self._conn = db.conn

    def __enter__(self) -> sqlite3.Connection:
        self._conn.execute("BEGIN IMMEDIATE")
        return self._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            try:
                self._conn.execute("COMMIT")
                return
            except sqlite3.Error:
                # SQLite rolls back by itself after some failed COMMITs (SQLITE_FULL, SQLITE_IOERR):
                # a second ROLLBACK would raise "no transaction is active" and hide the real cause.
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")


class Store:
    """The database file plus its writer thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._db: sqlite_utils.Database | None = None
        self.checkpointer: WalCheckpointer | None = None

    @classmethod
    async def open(cls, path: Path) -> Store:
        store = cls(path)
        loop = asyncio.get_running_loop()
        store._db = await loop.run_in_executor(store._executor, connect, path)
        return store

    async def call(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """Run `fn(db)` on the writer thread. `fn` is one of the plain query functions in this
        package, so the same code serves the CLI, which calls them directly."""
        if self._db is None:
            raise RuntimeError("store is closed")
        db = self._db
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, db)

    async def checkpoint_forever(self, interval_s: float = 1.0) -> None:
        """Checkpoint the WAL from a connection and thread of their own (gateway/store/checkpoint.py)
        until cancelled; meanwhile commits never checkpoint. `checkpointer` shows its progress."""
        self.checkpointer = WalCheckpointer(self.path, interval_s)
        await self.call(lambda db: db.conn.execute("PRAGMA wal_autocheckpoint=0"))
        try:
            await self.checkpointer.run()
        finally:
            if self._db is not None:
                # Stopped before the store closes: commits checkpoint for themselves again.
                await self.call(lambda db: db.conn.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}"))

    async def close(self) -> None:
        if self._db is None:
            return
        db, self._db = self._db, None
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, db.conn.close)
        self._executor.shutdown(wait=True)
