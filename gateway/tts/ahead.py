"""Read an async iterator ahead of its reader, boundedly.

The Hermes speaker plays one part of a reply at a time and waits for its playFinished; meanwhile
the next part should be synthesised, or every sentence would start with a silence as long as its
synthesis. A task of its own pulls the parts; it holds at most `depth` finished parts plus the
one it is making, so a reply that is stopped wastes little synthesis.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Item(Generic[T]):
    value: T


@dataclass(frozen=True, slots=True)
class _Failed:
    error: Exception


class _End:
    pass


@asynccontextmanager
async def read_ahead(source: AsyncGenerator[T, None], depth: int = 1) -> AsyncIterator[AsyncIterator[T]]:
    """`async with read_ahead(parts) as ahead: async for part in ahead: ...`. An exception of the
    source reaches the reader in its place in the sequence. Leaving the block stops the puller and
    closes the source (so an engine synthesises nothing more)."""
    queue: asyncio.Queue[_Item[T] | _Failed | _End] = asyncio.Queue(maxsize=depth)

    async def pull() -> None:
        try:
            async with aclosing(source):
                async for value in source:
                    await queue.put(_Item(value))
        except Exception as exc:  # handed to the reader, who decides
            await queue.put(_Failed(exc))
        else:
            await queue.put(_End())

    async def items() -> AsyncIterator[T]:
        while True:
            got = await queue.get()
            if isinstance(got, _End):
                return
            if isinstance(got, _Failed):
                raise got.error
            yield got.value

    puller = asyncio.create_task(pull(), name="tts-read-ahead")
    try:
        yield items()
    finally:
        puller.cancel()
        # wait() does not raise the puller's cancellation here (which suppress() around an await
        # would confuse with our own); our own cancellation still propagates.
        await asyncio.wait([puller])
