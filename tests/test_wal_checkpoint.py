"""WAL checkpoints off the ingest path (gateway/store/checkpoint.py), on real SQLite files.

Behaviour, not timing: while the checkpoint task runs, commits do not checkpoint (the log grows past
SQLite's 1,000-page threshold untouched), the task copies the log into the database file by itself,
a reader holding an old snapshot neither blocks it nor the writer, and when it stops the writer
checkpoints for itself again.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import sqlite_utils

from gateway.store.checkpoint import SQLITE_AUTOCHECKPOINT_PAGES, passive_checkpoint
from gateway.store.database import Store, Transaction

# 100 pages of 4 KiB per commit: 20 commits take the log to ~2,000 frames.
BLOB = b"\x5a" * (400 * 1024)
COMMITS = 20


def _write_blobs(db: sqlite_utils.Database, commits: int = COMMITS) -> None:
    db.conn.execute("CREATE TABLE IF NOT EXISTS scratch (body BLOB)")
    for _ in range(commits):
        with Transaction(db) as tx:
            tx.execute("INSERT INTO scratch (body) VALUES (?)", (BLOB,))


def _autocheckpoint(db: sqlite_utils.Database) -> int:
    return int(db.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])


async def _wait_until(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_commits_leave_the_log_to_the_checkpoint_task(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "gw.db")
    # An interval longer than the test: only the commits could checkpoint, and they must not.
    task = asyncio.create_task(store.checkpoint_forever(interval_s=3600))
    try:
        assert await _eventually_zero(store)
        await store.call(_write_blobs)
        # A checkpoint from another connection now finds every frame the commits wrote still in
        # the log: none of the commits copied (and so restarted) it.
        with sqlite3.connect(tmp_path / "gw.db") as other:
            _, log_frames, copied = passive_checkpoint(other)
        assert log_frames >= COMMITS * 100 > SQLITE_AUTOCHECKPOINT_PAGES
        assert copied == log_frames
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await store.call(_autocheckpoint) == SQLITE_AUTOCHECKPOINT_PAGES
    await store.close()


async def _eventually_zero(store: Store) -> bool:
    """The task has started: the writer's auto-checkpoint is off."""
    await _wait_until(lambda: store.checkpointer is not None)
    for _ in range(500):
        if await store.call(_autocheckpoint) == 0:
            return True
        await asyncio.sleep(0.01)
    return False


async def test_the_task_copies_the_log_into_the_database(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "gw.db")
    task = asyncio.create_task(store.checkpoint_forever(interval_s=0.05))
    try:
        assert await _eventually_zero(store)
        await store.call(_write_blobs)
        checkpointer = store.checkpointer
        assert checkpointer is not None
        stats = checkpointer.stats
        await _wait_until(lambda: stats.log_frames >= COMMITS * 100 and stats.checkpointed_frames == stats.log_frames)
        # Copied: a write after a whole checkpoint starts the log from its beginning again (it
        # stays bounded). A write that lands while the task's next pass still reads the log
        # appends instead (seen once in a full run), so write again after each further pass;
        # without the task the log only grows, past COMMITS * 100 frames.
        for _ in range(3):
            await store.call(lambda db: _write_blobs(db, 1))
            passes = stats.checkpoints
            await _wait_until(lambda: stats.checkpoints > passes and stats.checkpointed_frames == stats.log_frames)
        with sqlite3.connect(tmp_path / "gw.db") as other:
            _, log_frames, _ = passive_checkpoint(other)
        assert log_frames < COMMITS * 100
        assert stats.failures == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await store.close()


async def test_an_old_reader_blocks_neither_the_checkpoint_nor_the_writer(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "gw.db")
    await store.call(lambda db: _write_blobs(db, 1))
    reader = sqlite3.connect(tmp_path / "gw.db", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM scratch").fetchone()  # holds its snapshot from here on
    task = asyncio.create_task(store.checkpoint_forever(interval_s=0.05))
    try:
        assert await _eventually_zero(store)
        async with asyncio.timeout(60):
            await store.call(_write_blobs)  # commits go on while the reader holds its snapshot
        checkpointer = store.checkpointer
        assert checkpointer is not None
        before = checkpointer.stats.checkpoints
        await _wait_until(lambda: checkpointer.stats.checkpoints >= before + 2)  # passive: never waits on the reader
        # The frames the reader may still need are not copied over its snapshot: a partial copy.
        assert checkpointer.stats.checkpointed_frames < checkpointer.stats.log_frames
        assert reader.execute("SELECT count(*) FROM scratch").fetchone()[0] == 1
    finally:
        reader.execute("COMMIT")
        reader.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await store.close()
