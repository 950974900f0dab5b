"""Where an ingest run's time went, measured inside the gateway process (bench/ingest.py --trace).

- loop lag: how late a 1 ms ticker on the event loop wakes; a late loop reads the socket late, so
  this is the part of the publish→commit latency the gateway's own thread adds;
- GC pauses by generation (gc.callbacks);
- per batch written on the store's thread: its size, its wall time, its CPU time on that thread,
  the time that thread was runnable but waiting for a CPU (the kernel's run-queue delay,
  /proc/thread-self/schedstat: other processes had the cores), and the COMMIT alone (the fsync,
  plus a WAL checkpoint when SQLite's auto-checkpoint fires inside it). What is left of the wall
  time, wall − CPU − run-queue − COMMIT, is the thread asleep outside the COMMIT: waiting for the GIL.
Patches the gateway's functions in this process only; figures taken with it are not the benchmark's.
"""

from __future__ import annotations

import asyncio
import gc
import time
from array import array

import gateway.ingest as ingest_module
import gateway.store.database as database_module


def _run_queue_delay() -> float:
    """Seconds this thread has spent runnable but waiting for a CPU (Linux schedstat)."""
    try:
        with open("/proc/thread-self/schedstat") as stat:
            return int(stat.read().split()[1]) / 1e9
    except OSError:
        return 0.0


def _stats(values: array, scale: float = 1.0) -> dict[str, float]:  # type: ignore[type-arg]
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    at = lambda q: ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] * scale  # noqa: E731
    return {"n": len(ordered), "p50": round(at(0.5), 3), "p99": round(at(0.99), 3), "max": round(ordered[-1] * scale, 3),
            "sum": round(sum(ordered) * scale, 3)}


class Trace:
    def __init__(self) -> None:
        self.loop_lag = array("d")
        self.gc_pause = {0: array("d"), 1: array("d"), 2: array("d")}
        self.batch_size = array("d")
        self.write_wall = array("d")
        self.write_cpu = array("d")
        self.write_runq = array("d")
        self.write_gil = array("d")
        self.commit_wall = array("d")
        self.commit_total = 0.0
        self._gc_started = 0.0

    @classmethod
    def install(cls) -> Trace:
        trace = cls()
        gc.callbacks.append(trace._on_gc)
        write = ingest_module.write_ingest_batch

        def timed_write(db, batch):  # type: ignore[no-untyped-def]
            wall, cpu, runq = time.perf_counter(), time.thread_time(), _run_queue_delay()
            commits_before = trace.commit_total
            try:
                return write(db, batch)
            finally:
                wall = time.perf_counter() - wall
                cpu = time.thread_time() - cpu
                runq = _run_queue_delay() - runq
                commit = trace.commit_total - commits_before
                trace.write_wall.append(wall)
                trace.write_cpu.append(cpu)
                trace.write_runq.append(runq)
                trace.write_gil.append(max(0.0, wall - cpu - runq - commit))
                trace.batch_size.append(len(batch.events) + len(batch.dead_letters))

        ingest_module.write_ingest_batch = timed_write  # type: ignore[assignment]
        exit_ = database_module.Transaction.__exit__

        def timed_exit(self, exc_type, exc, tb):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                return exit_(self, exc_type, exc, tb)
            finally:
                if exc_type is None:
                    took = time.perf_counter() - started
                    trace.commit_wall.append(took)
                    trace.commit_total += took

        database_module.Transaction.__exit__ = timed_exit  # type: ignore[method-assign]
        return trace

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_pause[info["generation"]].append(time.perf_counter() - self._gc_started)

    async def tick_forever(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.001)
            self.loop_lag.append(time.perf_counter() - started - 0.001)

    def summary(self) -> dict[str, object]:
        ms = 1000.0
        return {
            "loop_lag_ms": _stats(self.loop_lag, ms),
            "gc_pause_ms": {f"gen{g}": _stats(v, ms) for g, v in self.gc_pause.items()},
            "batch_size": _stats(self.batch_size),
            "write_ms": _stats(self.write_wall, ms),
            "write_cpu_ms": _stats(self.write_cpu, ms),
            "write_runq_ms": _stats(self.write_runq, ms),
            "write_gil_wait_ms": _stats(self.write_gil, ms),
            "commit_ms": _stats(self.commit_wall, ms),
        }
