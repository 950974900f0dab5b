"""bench/_slow_cores.py: every thread of a throttled benchmark gets a slow core of its own.
Runs where this process may make cgroup v1 cpu groups (root, as in CI here); skipped elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from _slow_cores import ThreadSorter  # noqa: E402

V1_CPU = Path("/sys/fs/cgroup/cpu")
TWO_THREADS = "import threading, time; t = threading.Thread(target=time.sleep, args=(60,)); t.start(); time.sleep(60)"


@pytest.fixture
def parent() -> Iterator[Path]:
    if not (V1_CPU / "cpu.cfs_quota_us").exists() or not os.access(V1_CPU, os.W_OK):
        pytest.skip("no writable cgroup v1 cpu controller here")
    group = V1_CPU / f"touchgate-test-{os.getpid()}"
    group.mkdir()
    yield group
    for child in [p for p in group.iterdir() if p.is_dir()]:
        child.rmdir()
    group.rmdir()


def _threads(pid: int) -> set[int]:
    return {int(t) for t in os.listdir(f"/proc/{pid}/task")}


def test_each_thread_of_a_process_gets_a_group_of_its_own_with_one_cores_quota(parent: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", TWO_THREADS], preexec_fn=lambda: (parent / "cgroup.procs").write_text("0"))
    try:
        deadline = time.monotonic() + 10
        while len(_threads(child.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        sorter = ThreadSorter(parent, quota_us=2000, period_us=10_000)
        sorter.sort_once()
        groups = {p: (p / "tasks").read_text().split() for p in parent.iterdir() if p.is_dir()}
        assert sorted(int(t) for tids in groups.values() for t in tids) == sorted(_threads(child.pid))
        assert all(len(tids) == 1 for tids in groups.values()), groups
        assert {(p / "cpu.cfs_quota_us").read_text().strip() for p in groups} == {"2000"}
        assert (parent / "tasks").read_text().split() == []

        sorter.set_quota(3000, 10_000)  # dialled in again: the groups there are follow
        assert {(p / "cpu.cfs_quota_us").read_text().strip() for p in groups} == {"3000"}
    finally:
        child.kill()
        child.wait()
    sorter.sort_once()  # its threads are gone: their groups go too
    assert [p for p in parent.iterdir() if p.is_dir()] == []
