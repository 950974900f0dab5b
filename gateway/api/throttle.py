"""Login throttling: failed attempts to present the API token (the login form, the one-time link,
a bearer header) are counted per client address and over all clients, in a sliding window.

Past either limit, every attempt is refused with 429 and a Retry-After until the oldest counted
failure leaves the window; no token is compared meanwhile, so a guesser learns nothing from a
throttled attempt. The global limit is what stops a guesser with many addresses (behind a proxy,
every client has the proxy's address and only the global limit applies in effect); it also locks
the operator out for at most one window, which is the price of not being guessable.
Times are monotonic (a clock jump neither lifts nor extends a lock).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

# Client addresses remembered at most: past this, the least recently failing client is forgotten
# (the global window still counts its failures).
MAX_CLIENTS = 4096


@dataclass(frozen=True)
class Throttled:
    retry_after_s: int
    scope: str  # "client" or "global"


class LoginThrottle:
    def __init__(
        self, per_client: int, global_limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._per_client = per_client
        self._global_limit = global_limit
        self._window_s = window_s
        self._clock = clock
        self._clients: OrderedDict[str, deque[float]] = OrderedDict()
        self._all: deque[float] = deque()

    def check(self, client: str) -> Throttled | None:
        """None when `client` may try now; otherwise how long to wait, and why."""
        now = self._clock()
        self._expire(self._all, now)
        if len(self._all) >= self._global_limit:
            return Throttled(self._wait(self._all, now), "global")
        failures = self._clients.get(client)
        if failures is not None:
            self._expire(failures, now)
            if len(failures) >= self._per_client:
                return Throttled(self._wait(failures, now), "client")
        return None

    def failed(self, client: str) -> Throttled | None:
        """Count a failed attempt; returns the lock it starts, if it starts one."""
        now = self._clock()
        self._all.append(now)
        failures = self._clients.pop(client, None) or deque()
        failures.append(now)
        self._clients[client] = failures  # most recent last
        while len(self._clients) > MAX_CLIENTS:
            self._clients.popitem(last=False)
        return self.check(client)

    def succeeded(self, client: str) -> None:
        """A right token from this client: its own count starts again (the global one does not)."""
        self._clients.pop(client, None)

    def _expire(self, failures: deque[float], now: float) -> None:
        while failures and now - failures[0] >= self._window_s:
            failures.popleft()

    def _wait(self, failures: deque[float], now: float) -> int:
        """Whole seconds until the oldest counted failure leaves the window (at least 1)."""
        return max(1, math.ceil(self._window_s - (now - failures[0])))
