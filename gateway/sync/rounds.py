"""The loop of the sync parts that work in rounds (changes puller, erasure sender): one round,
then the wait the round asked for, cut short when someone wakes the part."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import NoReturn

from gateway.waiting import wait_set

# One round: the seconds to wait before the next one, or None when more work is waiting now.
Round = Callable[[], Awaitable[float | None]]


async def run_rounds(one_round: Round, wakeup: asyncio.Event) -> NoReturn:
    """Run `one_round` until cancelled: again at once when it returns None, else after the delay
    it returned or as soon as `wakeup` is set (a wake-up during a round cuts the next wait short)."""
    while True:
        delay = await one_round()
        if delay is None:
            continue
        await wait_set(wakeup, delay)
        wakeup.clear()
