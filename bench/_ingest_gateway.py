"""The gateway side of bench/ingest.py, in a process of its own: runs the real gateway on a config
file until SIGTERM, then writes its figures (throughput, latencies, its own peak RSS) as JSON.

    python bench/_ingest_gateway.py --config FILE --count N --out FILE [--trace]

Imports nothing but the gateway: whatever this process holds counts as the gateway's memory.
`--trace` (bench/ingest.py --trace) adds where the time went, measured inside the gateway: the
event loop's lag (a 1 ms ticker's overshoot), garbage-collector pauses, and per commit its batch
size and its time on the store's thread. It costs a little CPU; leave it off for the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.app import build_gateway, serve  # noqa: E402 - after the path to the project
from gateway.config.settings import load_settings  # noqa: E402
from gateway.model.event import Event  # noqa: E402

from _ingest_trace import Trace  # noqa: E402


def run(config: Path, count: int, out: Path, trace: Trace | None) -> None:
    # Plain doubles, not lists of float objects: this runs inside the gateway process, and 30,000
    # latencies as Python floats would add megabytes to the RSS the benchmark reports as the gateway's.
    latencies = array("d")
    receive_latencies = array("d")
    state = {"committed": 0, "ready_at": 0.0, "done_at": 0.0, "rss_ready_mb": 0.0}

    def on_committed(events: list[Event]) -> None:
        now = time.time()
        for event in events:
            if event.device_time is not None:
                latencies.append(now - event.device_time)
                receive_latencies.append(event.received_at - event.device_time)
        state["committed"] += len(events)
        if state["committed"] >= count and not state["done_at"]:
            state["done_at"] = time.perf_counter()

    async def main() -> None:
        runtime = await build_gateway(load_settings(config))
        runtime.ingest.on_committed.append(on_committed)
        task = asyncio.create_task(serve(runtime))
        ticker = asyncio.create_task(trace.tick_forever()) if trace else None
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        await runtime.ready.wait()
        state["ready_at"] = started
        state["rss_ready_mb"] = _current_rss_mb()
        print("READY", flush=True)
        try:
            await task
        except asyncio.CancelledError:
            pass
        if ticker:
            ticker.cancel()

    asyncio.run(main())
    # Peak RSS first: building the report below allocates too, and that is not the gateway's.
    peak_rss_mb = _peak_rss_mb()
    elapsed = state["done_at"] - state["ready_at"] if state["done_at"] else 0.0
    out.write_text(
        json.dumps(
            {
                **({"trace": trace.summary()} if trace else {}),
                "committed": state["committed"],
                "eps": count / elapsed if elapsed else 0.0,
                "latencies_ms": [x * 1000 for x in latencies],
                "receive_latencies_ms": [x * 1000 for x in receive_latencies],
                "rss_mb": peak_rss_mb,
                "rss_ready_mb": state["rss_ready_mb"],
            }
        )
    )


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _current_rss_mb() -> float:
    return _status_mb("VmRSS:")


def _peak_rss_mb() -> float:
    """This process's own peak RSS. Not `getrusage().ru_maxrss`: Linux carries the parent's peak
    across fork and exec into it, so a child started by a 65 MB orchestrator reports at least 65 MB
    whatever it uses itself (measured: a 11 MB child of a 211 MB parent reported 211 MB)."""
    return _status_mb("VmHWM:")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--trace", action="store_true")
    args = parser.parse_args()
    # An experiment's knob (bench/ingest.py passes TOUCHGATE_BENCH_SWITCH_INTERVAL through the
    # environment): how long a thread may hold the GIL while another waits for it.
    if switch := os.environ.get("TOUCHGATE_BENCH_SWITCH_INTERVAL"):
        sys.setswitchinterval(float(switch))
    run(args.config, args.count, args.out, Trace.install() if args.trace else None)
