"""Waiting with a time limit, in a way that never loses a cancellation.

Not `asyncio.wait_for`: on Python 3.11 it returns the result when the awaited thing finishes in
the same loop turn as the cancellation arrives, and the cancellation is gone (CPython gh-86296,
fixed only in 3.12). A part's loop that lost its cancellation keeps running, and the TaskGroup
that cancelled it waits for ever: the gateway never stops. `asyncio.timeout` lets it through.
"""

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def wait_set(event: asyncio.Event, timeout_s: float | None) -> bool:
    """Wait until `event` is set or `timeout_s` pass (None: no limit); True if it was set."""
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def within(awaitable: Awaitable[T], timeout_s: float | None) -> T:
    """The result of `awaitable`, or TimeoutError after `timeout_s` (it is then cancelled)."""
    async with asyncio.timeout(timeout_s):
        return await awaitable
