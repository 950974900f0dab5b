"""N slow cores out of one cgroup quota (bench/throttle.py --cores N), cgroup v1.

A single quota for the whole benchmark is one slow CPU shared by every thread: the gateway's
event loop, its store thread, its decoder, the broker and the publisher all queue for it. The
Pi-class machine of issue 18 has several slow cores instead (the issue's VM 2, a Pi 4/5 4). This
emulates that: every thread gets a child cgroup of its own with the per-core quota (so no thread
runs faster than one slow core), and the parent group holds N times it (so no more than N of
them run at once). cgroup v1 lets single threads (`tasks`) move between groups; v2 only in
"threaded" subtrees, which this does not set up (the throttle says so and refuses).

Threads start in their creator's group (a new process's too) and are moved to their own within
one poll (`poll_s`): start-up is briefly slower than a core, which no benchmark phase measures.
"""

from __future__ import annotations

import threading
from pathlib import Path


class ThreadSorter(threading.Thread):
    """Keeps one thread per child group of `parent`, each child limited to `quota_us` per `period_us`."""

    def __init__(self, parent: Path, quota_us: int, period_us: int, poll_s: float = 0.01) -> None:
        super().__init__(name="slow-cores", daemon=True)
        self._parent, self._quota_us, self._period_us, self._poll_s = parent, quota_us, period_us, poll_s
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self._next = 0
        self.groups_made = 0
        self.throttled_s_removed = 0.0  # from child groups already removed (their threads ended)

    def set_quota(self, quota_us: int, period_us: int) -> None:
        """One core's quota, for the groups there are and those made from now on (the throttle
        dials it in before the command runs, with the parent's own quota lifted meanwhile: v1
        refuses a child a quota above its parent's)."""
        with self._lock:
            self._quota_us, self._period_us = quota_us, period_us
            for child in self._children():
                _limit(child, quota_us, period_us)

    def run(self) -> None:
        while not self._stop_event.wait(self._poll_s):
            self.sort_once()

    def sort_once(self) -> None:
        with self._lock:
            self._sort()

    def _sort(self) -> None:
        for tid in _tasks(self._parent):
            self._own_group(tid)
        for child in self._children():
            tids = _tasks(child)
            if not tids:
                self._remove(child)
            for tid in tids[1:]:
                self._own_group(tid)

    def _own_group(self, tid: int) -> None:
        self._next += 1
        child = self._parent / f"t{self._next}"
        child.mkdir()
        _limit(child, self._quota_us, self._period_us)
        try:
            (child / "tasks").write_text(str(tid))
        except (ProcessLookupError, OSError):
            pass  # the thread ended in between; the empty group goes on the next poll
        self.groups_made += 1

    def _children(self) -> list[Path]:
        return [p for p in self._parent.iterdir() if p.is_dir() and p.name.startswith("t")]

    def _remove(self, child: Path) -> None:
        self.throttled_s_removed += throttled_seconds(child) or 0.0
        try:
            child.rmdir()
        except OSError:
            pass  # a thread moved in since we looked: it is sorted on the next poll

    def throttled_s(self) -> float:
        return self.throttled_s_removed + sum(throttled_seconds(child) or 0.0 for child in self._children())

    def stop(self) -> list[Path]:
        """Stop sorting; the child groups left (the caller empties and removes them)."""
        self._stop_event.set()
        self.join()
        return self._children()


def _limit(group: Path, quota_us: int, period_us: int) -> None:
    # v1 checks quota against period on each write: no quota, the period, then the quota.
    (group / "cpu.cfs_quota_us").write_text("-1")
    (group / "cpu.cfs_period_us").write_text(str(period_us))
    (group / "cpu.cfs_quota_us").write_text(str(quota_us))


def _tasks(group: Path) -> list[int]:
    try:
        return [int(t) for t in (group / "tasks").read_text().split()]
    except FileNotFoundError:
        return []


def throttled_seconds(group: Path) -> float | None:
    """How long a group spent throttled (the kernel's own count), if the cgroup reports it."""
    try:
        lines = (group / "cpu.stat").read_text().splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        name, value = line.split()
        if name == "throttled_usec":
            return int(value) / 1e6
        if name == "throttled_time":  # v1: nanoseconds
            return int(value) / 1e9
    return None
