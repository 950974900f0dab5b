"""Publishing Hermes messages, and errors throttled per site so a speaker that sends garbage
thirty times a second gets told, not flooded."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from gateway.hermes.base import HermesMessage
from gateway.hermes.error import HermesError

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], None]
ERROR_INTERVAL_S = 2.0


class HermesOut:
    def __init__(self, publish: Publish, clock: Callable[[], float] = time.monotonic) -> None:
        self._publish = publish
        self._clock = clock
        self._last_error: dict[tuple[str, str, str | None, str], float] = {}
        self.errors_published = 0
        self.errors_suppressed = 0

    def send(self, topic: str, message: HermesMessage) -> None:
        self._publish(topic, message.to_json())

    def error(self, component: str, error: str, site_id: str, session_id: str | None = None, context: str | None = None) -> None:
        key = (component, site_id, session_id, error.split(":")[0])
        now = self._clock()
        if now - self._last_error.get(key, -ERROR_INTERVAL_S) < ERROR_INTERVAL_S:
            self.errors_suppressed += 1
            return
        self._last_error[key] = now
        if len(self._last_error) > 10_000:
            self._last_error.clear()
        self.errors_published += 1
        log.info("hermes error from %s at %s: %s", component, site_id, error)
        self.send(HermesError.topic(component=component), HermesError(error=error, context=context, siteId=site_id, sessionId=session_id))
