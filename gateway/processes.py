"""Ending a child process started with asyncio, without hanging on its pipes.

On Python 3.11, `Process.wait()` returns only once every pipe of the child has reached its end,
not when the child has exited. A pipe whose reader stopped (a `communicate()` that was cancelled)
holds what the child wrote; once that exceeds the StreamReader's limit the transport stops
reading, never sees the end of the pipe, and `wait()` waits for ever, even for a killed child.
It happened in CI: a reply cancelled at shutdown left espeak-ng's WAV half read, and the gateway
never stopped. `communicate()` reads the rest, so the pipes end and the child is reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from gateway.waiting import within


async def reap(process: asyncio.subprocess.Process, stop_with: signal.Signals = signal.SIGKILL, grace_s: float = 10.0) -> int:
    """Send `stop_with` if the child still runs, then read its pipes to their end and wait for it;
    its exit status. A child that has not ended `grace_s` after a signal other than SIGKILL (one
    that ignores SIGTERM) is killed. What it wrote after the reader gave up is thrown away."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(stop_with)
    try:
        await within(process.communicate(), None if stop_with == signal.SIGKILL else grace_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.communicate()
    assert process.returncode is not None  # communicate() returns only after wait()
    return process.returncode
