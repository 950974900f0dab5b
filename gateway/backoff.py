"""When to try again: the one backoff of the gateway (MQTT reconnects, ingest commits, the consent
inbox, the sync parts). Pure: no clock, no sleeping; the caller waits what `next_delay` says."""

from __future__ import annotations

import random


class Backoff:
    """Exponential backoff with "equal jitter": the n-th consecutive failure waits a random time
    in [d/2, d], d = min(max, initial·2ⁿ⁻¹), so gateways that failed together do not return
    together. A Retry-After from the service is honoured (capped), with up to 10 % jitter."""

    def __init__(
        self, initial_s: float, max_s: float, retry_after_max_s: float | None = None, rng: random.Random | None = None
    ) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self.retry_after_max_s = max_s if retry_after_max_s is None else retry_after_max_s
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self, retry_after: float | None = None) -> float:
        self.failures += 1
        if retry_after is not None:
            wait = min(retry_after, self.retry_after_max_s)
            return wait + self._rng.uniform(0, 0.1 * wait)
        ceiling = min(self.max_s, self.initial_s * 2 ** min(self.failures - 1, 62))
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0
