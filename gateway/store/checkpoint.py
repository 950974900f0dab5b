"""WAL checkpoints off the ingest path.

By default SQLite checkpoints inside the COMMIT that takes the write-ahead log past 1,000 pages:
that commit then also copies the log into the database file and fsyncs it, and the messages
waiting on it are acknowledged that much later (on a slow disk, tens to hundreds of ms: the tail of
the ingest latency). While the gateway runs, the writer's auto-checkpoint is off and this task
checkpoints instead, PASSIVE, from a connection and a thread of its own: a passive checkpoint never
waits for the writer or for readers, and the writer never waits for it (WAL mode lets both run at
once); the GIL is released while SQLite works. Once a checkpoint has copied the whole log, the
writer's next transaction starts the log again from its beginning, so the file stays bounded
(`journal_size_limit` trims what a burst left behind).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# SQLite's own default auto-checkpoint threshold (pages), put back when the task stops.
SQLITE_AUTOCHECKPOINT_PAGES = 1000


@dataclass
class CheckpointStats:
    """What the checkpoint task has done (for the metrics and for tests to wait on)."""

    checkpoints: int = 0
    failures: int = 0
    # From the last checkpoint: frames in the log, and how many of them are in the database file.
    log_frames: int = 0
    checkpointed_frames: int = 0
    last_seconds: float = 0.0


def passive_checkpoint(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """(busy, frames in the log, frames copied) from `PRAGMA wal_checkpoint(PASSIVE)`."""
    busy, log_frames, checkpointed = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(busy), int(log_frames), int(checkpointed)


class WalCheckpointer:
    """Its own connection to the database file, used on its own thread, every `interval_s`."""

    def __init__(self, path: Path, interval_s: float) -> None:
        self.path = path
        self.interval_s = interval_s
        self.stats = CheckpointStats()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-checkpoint")

    async def run(self) -> None:
        """Checkpoint every `interval_s` until cancelled. Failures are logged and retried at the
        next interval: the log only grows meanwhile, nothing is lost."""
        loop = asyncio.get_running_loop()
        conn = await loop.run_in_executor(self._executor, self._connect)
        try:
            while True:
                await asyncio.sleep(self.interval_s)
                started = loop.time()
                try:
                    _, log_frames, copied = await loop.run_in_executor(self._executor, passive_checkpoint, conn)
                except sqlite3.Error as exc:
                    self.stats.failures += 1
                    log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
                    continue
                self.stats.checkpoints += 1
                self.stats.log_frames, self.stats.checkpointed_frames = log_frames, copied
                self.stats.last_seconds = loop.time() - started
        finally:
            await loop.run_in_executor(self._executor, conn.close)
            self._executor.shutdown(wait=True)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
        # The copy into the database file is synced before the log may be reused: a power cut
        # during a checkpoint loses nothing (the log still holds every frame).
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn
