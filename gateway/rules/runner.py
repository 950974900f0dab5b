"""Performing a firing's outputs: MQTT publishes at once; emitted events collected for the next
state flush (they go through the consent gate there); `delay` actions make a run a task.

Mode `single`: while a run with delays is going on for the same rule and scope, the engine skips
new firings (it reads `busy`). Mode `queued`: the firing waits for the running one to finish
(at most `max_queued` waiting; more are dropped and logged).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from gateway.model.event import Event
from gateway.rules.actions import Delay, Emit, Output, Publish
from gateway.rules.compile import CompiledRule
from gateway.rules.engine import Decision

log = logging.getLogger(__name__)

PublishFn = Callable[[str, bytes, int, bool], None]


class ActionRunner:
    def __init__(self, publish: PublishFn, busy: set[tuple[str, str]]) -> None:
        self._publish = publish
        self._busy = busy
        self._queues: dict[tuple[str, str], deque[tuple[Output, ...]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.emitted: list[Event] = []
        self.dropped = 0

    def start(self, rule: CompiledRule, decision: Decision) -> None:
        if not rule.has_delay:
            self._perform_now(decision.outputs)
            return
        key = (rule.id, decision.scope)
        if key in self._busy:
            queue = self._queues.setdefault(key, deque())
            if len(queue) >= rule.rule.max_queued:
                self.dropped += 1
                log.warning("rule %s: queue full (%d), firing dropped", rule.id, rule.rule.max_queued)
                return
            queue.append(decision.outputs)
            return
        self._busy.add(key)
        task = asyncio.get_running_loop().create_task(self._run(key, decision.outputs), name=f"rule-{rule.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _perform_now(self, outputs: tuple[Output, ...]) -> None:
        for output in outputs:
            self._perform(output)

    def _perform(self, output: Output) -> None:
        if isinstance(output, Publish):
            self._publish(output.topic, output.payload, output.qos, output.retain)
        elif isinstance(output, Emit):
            self.emitted.append(output.event)
        # ProfileWrite: already applied to the cache; the state flush persists it.

    async def _run(self, key: tuple[str, str], outputs: tuple[Output, ...]) -> None:
        try:
            while True:
                for output in outputs:
                    if isinstance(output, Delay):
                        await asyncio.sleep(output.seconds)
                    else:
                        self._perform(output)
                queue = self._queues.get(key)
                if not queue:
                    break
                outputs = queue.popleft()
        finally:
            self._busy.discard(key)
            self._queues.pop(key, None)

    def take_emitted(self) -> list[Event]:
        out, self.emitted = self.emitted, []
        return out

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except asyncio.CancelledError:
                pass
