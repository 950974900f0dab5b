"""The database's disk fills up under load: the gateway stops acknowledging (the broker keeps the
messages), keeps running, and once space returns stores everything exactly once, uncorrupted.

The disk is a real, small tmpfs mounted for the test (this needs root, which the test machines
have). Where mounting is not permitted the test falls back to SQLite's `PRAGMA max_page_count` on
the gateway's own connection, which makes SQLite answer SQLITE_FULL the same way; the test says
which one it used in its output.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from gateway.app import Gateway
from tests.reliability.load import TOPIC, numbered, stored_numbers
from tests.reliability.support import assert_alive, integrity
from tests.support.clients import Publisher
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto

# Room, once the filler is gone, for every message's rows twice over: SQLite reclaims the
# write-ahead log's space only after a checkpoint has copied it into the database file (which
# grows by as much), and the backlog commits in a burst faster than the checkpoint task's interval.
# At 6 MiB the 4,000 messages' rows (~3 MiB) plus their log (~4 MiB) did not fit: the disk was
# full again with nothing anyone could free, which is no test of recovering when space returns.
DISK_BYTES = 16 * 1024 * 1024
MESSAGES = 4000


@contextlib.contextmanager
def small_tmpfs(where: Path) -> Iterator[bool]:
    """Mount a tmpfs of DISK_BYTES at `where`; yields False (and mounts nothing) if not permitted."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0700", "tmpfs", str(where)],
        capture_output=True, check=False,
    ).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the file system says ENOSPC."""
    filler = directory / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
        # Squeeze the last partial blocks too.
        with contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 512)
    return filler


async def limit_pages(runtime: Gateway, extra_pages: int | None) -> None:
    """The fallback: cap the gateway connection's database size (None lifts the cap)."""

    def apply(db: object) -> None:
        conn = db.conn  # type: ignore[attr-defined]
        if extra_pages is None:
            conn.execute("PRAGMA max_page_count = 1073741823")
        else:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages + extra_pages}")

    await runtime.store.call(apply)


async def test_disk_full_stops_acks_keeps_running_and_recovers(broker: Mosquitto, tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    with small_tmpfs(disk) as mounted:
        print(f"disk full by: {'tmpfs of %d bytes' % DISK_BYTES if mounted else 'PRAGMA max_page_count (mount not permitted)'}")
        settings = gateway_settings(broker, tmp_path, store={"path": disk / "touchgate.db"})
        db = settings.store.path
        async with running_gateway(settings) as runtime:
            c = runtime.ingest.counters
            filler = fill(disk) if mounted else None
            if not mounted:
                await limit_pages(runtime, 2)
            with Publisher(broker.host, broker.port, client_id="disk-full-load") as pub:
                await asyncio.to_thread(pub.publish_all, [(TOPIC, numbered(n)) for n in range(MESSAGES)])
            # The broker has every message; the gateway cannot commit them, so it acknowledges none
            # of them: the broker keeps them.
            await wait_until(lambda: c.commit_failures >= 3, timeout=30)
            stuck, failures = c.stored, c.commit_failures
            # Two more attempts, both failed: still nothing more stored (and nothing acknowledged).
            await wait_until(lambda: c.commit_failures >= failures + 2, timeout=30)
            assert c.stored == stuck < MESSAGES, "stored while the disk was full?"
            assert_alive(runtime)
            # Space returns: everything arrives, nothing twice.
            if filler is not None:
                os.unlink(filler)
            else:
                await limit_pages(runtime, None)
            await wait_until(lambda: c.stored >= MESSAGES, timeout=60)
            assert c.in_flight() == 0
            assert_alive(runtime)
        found = stored_numbers(db)
        assert sorted(found) == list(range(MESSAGES)) and max(found.values()) == 1
        assert integrity(db) == "ok"
        # The file opens and the gateway runs on it again.
        async with running_gateway(settings) as runtime:
            assert_alive(runtime)
