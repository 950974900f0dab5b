"""A child whose output nobody reads any more must still be stopped and reaped.

CI hung at shutdown: a reply cancelled mid-synthesis left espeak-ng's WAV half read, the pipe's
transport paused with a full buffer, and `Process.wait()` (which on 3.11 waits for the pipes'
end) never returned, though the child had been killed."""

from __future__ import annotations

import asyncio
import signal
import sys

from gateway.processes import reap
from gateway.tts.espeak import EspeakEngine
from tests.support.children import busy_loop, bytes_written, children, new_children_named
from tests.support.gateway import wait_until

# Writes far more than the StreamReader's buffer limit (2 x 64 KiB), then waits to be killed.
_FLOODER = "import sys, time; sys.stdout.buffer.write(b'x' * 4_000_000); sys.stdout.flush(); time.sleep(600)"


async def test_a_child_whose_reader_gave_up_with_a_full_pipe_is_reaped() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _FLOODER,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    # The state that made wait() hang: nobody reads the child's output, and its pipe's transport
    # stopped reading once the buffer was full.
    stdout_pipe = process._transport.get_pipe_transport(1)  # type: ignore[attr-defined]
    await wait_until(lambda: not stdout_pipe.is_reading(), timeout=20)
    assert process.returncode is None

    status = await asyncio.wait_for(reap(process), 10)

    assert status == -signal.SIGKILL
    assert process.pid not in children()


async def test_reap_stops_with_the_signal_asked_for_and_leaves_an_ended_child_alone() -> None:
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", "import time; time.sleep(600)", stdout=asyncio.subprocess.PIPE)
    assert await asyncio.wait_for(reap(process, signal.SIGTERM), 10) == -signal.SIGTERM
    assert await asyncio.wait_for(reap(process), 10) == -signal.SIGTERM  # already reaped: nothing sent


async def test_a_child_that_ignores_the_signal_is_killed_after_the_grace() -> None:
    stubborn = "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(600)"
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", stubborn, stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    assert await asyncio.wait_for(process.stdout.readline(), 20) == b"ready\n"  # SIGTERM is ignored from here on
    assert await asyncio.wait_for(reap(process, signal.SIGTERM, grace_s=0.5), 10) == -signal.SIGKILL


async def test_a_long_espeak_reply_cancelled_while_it_is_written_ends_and_leaves_no_process() -> None:
    engine = EspeakEngine("en-us")
    await engine.start()
    before = set(children())
    text = "The shop is open from nine in the morning until eight in the evening. " * 400
    slow = asyncio.create_task(busy_loop())
    speaking = asyncio.create_task(engine.synthesize(text))
    # Cancelled once it has written a good deal and goes on writing: what it writes next is never
    # read, which is what paused the pipe in CI.
    await wait_until(lambda: any(bytes_written(pid) > 1_000_000 for pid in new_children_named("espeak-ng", before)) or speaking.done(), timeout=20)
    assert not speaking.done(), "espeak-ng finished before it could be cancelled: the text is too short"
    speaking.cancel()

    done, _ = await asyncio.wait([speaking], timeout=20)
    slow.cancel()

    assert done == {speaking} and speaking.cancelled()
    assert not new_children_named("espeak-ng", before)
