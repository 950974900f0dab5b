"""Child processes of this test process, seen through /proc, and a busy event loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path


async def busy_loop() -> None:
    """Each turn of the event loop takes 30 ms, as on a loaded Pi: a child writing fast refills
    its pipe between turns, so the pipe's transport fills its buffer as soon as nobody reads it.
    On an idle machine the turns are microseconds apart and the hang needed bad luck (in CI)."""
    while True:
        time.sleep(0.03)  # blocking on purpose: the loop is busy
        await asyncio.sleep(0)


def children() -> list[int]:
    """The pids of this process's children (of any of its threads)."""
    found: list[int] = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            found += [int(pid) for pid in (task / "children").read_text().split()]
    return found


def command_of(pid: int) -> str:
    """The child's command name ("" once it is gone)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except FileNotFoundError:
        return ""


def bytes_written(pid: int) -> int:
    """Bytes the process has written so far, to any file or pipe (0 once it is gone)."""
    try:
        fields = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    except FileNotFoundError:
        return 0
    return int(fields["wchar"])


def new_children_named(command: str, before: set[int]) -> list[int]:
    """This process's children called `command` that were not among `before`."""
    return [pid for pid in set(children()) - before if command_of(pid) == command]
