"""The operator surface's reads: one thread of their own, whatever the number of overlapping
calls, and a small page cache per connection. Every thread that opens a connection keeps up to
its page cache in its own allocator arena; on asyncio's default executor each overlapping call
could start one more thread and keep ~2 MiB more (the soak's RSS steps, docs/reliability.md)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import sqlite_utils

from gateway.api.reader import READ_CACHE_KIB, StoreReader
from gateway.store.database import connect


def _where_and_cache(db: sqlite_utils.Database) -> tuple[int, int, int]:
    time.sleep(0.02)  # long enough for the calls to overlap
    (cache_size,) = db.execute("PRAGMA cache_size").fetchone()
    (events,) = db.execute("SELECT count(*) FROM events").fetchone()
    return threading.get_ident(), int(cache_size), int(events)


async def test_overlapping_reads_share_one_thread_with_a_small_cache(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    connect(path).conn.close()
    reader = StoreReader(path)
    holder = asyncio.create_task(reader.run())
    try:
        results = await asyncio.gather(*(reader.call(_where_and_cache) for _ in range(12)))
    finally:
        holder.cancel()
        await asyncio.gather(holder, return_exceptions=True)
    assert {thread for thread, _, _ in results} != {threading.get_ident()}
    assert len({thread for thread, _, _ in results}) == 1
    assert {cache for _, cache, _ in results} == {-READ_CACHE_KIB}
    assert {events for _, _, events in results} == {0}
    # Cancelled with the gateway, the reader lets its thread go.
    deadline = time.monotonic() + 5
    while any(t.name.startswith("store-reader") for t in threading.enumerate()) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not any(t.name.startswith("store-reader") for t in threading.enumerate())
