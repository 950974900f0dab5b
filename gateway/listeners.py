"""Listeners: the isolation boundary per listener.

A listener is told about something that already happened (events committed, a voice turn ended,
an intent recognised, a sync attempt settled, the broker connected). Its failure must not undo or
stop that: it is logged with its traceback and counted in `failures`, and the other listeners
are still called. The owner of a `Listeners` list decides what to tell; the listener cannot stop it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, ParamSpec

log = logging.getLogger(__name__)

P = ParamSpec("P")


class Listeners(Generic[P]):
    """A list of callbacks called in order, each isolated from the others and from the caller."""

    def __init__(self, what: str) -> None:
        self.what = what  # for the log: "ingest on_committed", "voice on_turn", ...
        self._listeners: list[Callable[P, object]] = []
        self.failures = 0

    def append(self, listener: Callable[P, object]) -> None:
        self._listeners.append(listener)

    def extend(self, listeners: Iterable[Callable[P, object]]) -> None:
        self._listeners.extend(listeners)

    def remove(self, listener: Callable[P, object]) -> None:
        """Raises ValueError when `listener` is not there, like list.remove."""
        self._listeners.remove(listener)

    def __iter__(self) -> Iterator[Callable[P, object]]:
        return iter(list(self._listeners))

    def __len__(self) -> int:
        return len(self._listeners)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> None:
        # A copy: a listener may remove itself (or another) while being told.
        for listener in list(self._listeners):
            try:
                listener(*args, **kwargs)
            except Exception:  # noqa: BLE001 - isolation boundary per listener: logged, counted, the rest go on
                self.failures += 1
                log.exception("%s listener %r failed", self.what, listener)
