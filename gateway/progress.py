"""Progress bars for long CLI operations (replay, export of a large store, outbox drain).

A thin wrapper over tqdm so every command looks the same: on stderr, only when stderr is a
terminal (log files and pipes stay clean), redrawn at most a few times a second.

    with progress(total=count, description="replay", unit="events") as bar:
        for batch in batches:
            handle(batch)
            bar.advance(len(batch))
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from tqdm import tqdm


class Progress:
    def __init__(self, bar: tqdm) -> None:  # type: ignore[type-arg]
        self._bar = bar

    def advance(self, count: int = 1) -> None:
        self._bar.update(count)

    def set_total(self, total: int) -> None:
        """For operations that learn their size on the way (a drain whose outbox keeps filling)."""
        self._bar.total = total
        self._bar.refresh()

    def note(self, text: str) -> None:
        """A short status after the numbers (e.g. the current file or batch)."""
        self._bar.set_postfix_str(text, refresh=False)

    def write(self, text: str, file: IO[str] | None = None) -> None:
        """A line of output (default: standard output) while the bar may be drawn: the bar is
        cleared and redrawn around it, so output and bar never share a line."""
        out = file if file is not None else sys.stdout
        if self._bar.disable:
            print(text, file=out)
        else:
            tqdm.write(text, file=out)

    @property
    def done(self) -> int:
        return int(self._bar.n)


@contextmanager
def progress(
    total: int | None,
    description: str,
    unit: str = "items",
    *,
    stream: IO[str] | None = None,
    enabled: bool | None = None,
) -> Iterator[Progress]:
    """`enabled=None` shows the bar only on a terminal; True/False force it (tests, --progress)."""
    out = stream if stream is not None else sys.stderr
    disable = (not _is_terminal(out)) if enabled is None else not enabled
    bar = tqdm(
        total=total,
        desc=description,
        unit=unit,
        file=out,
        disable=disable,
        mininterval=0.2,
        dynamic_ncols=True,
        leave=True,
    )
    try:
        yield Progress(bar)
    finally:
        bar.close()


def _is_terminal(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
