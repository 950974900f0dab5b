"""Shared bits of the benchmarks: machine description, medians, a JSON last line."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def machine() -> dict[str, object]:
    model = ""
    for path in ("/proc/device-tree/model", "/sys/firmware/devicetree/base/model"):
        if os.path.exists(path):
            model = Path(path).read_text(errors="replace").strip("\x00\n")
    if not model and os.path.exists("/proc/cpuinfo"):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "platform": platform.platform(),
        "arch": platform.machine(),
        "cpu": model,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[index]


def emit(result: dict[str, object]) -> None:
    print(json.dumps(result, sort_keys=True))


def loop_time_s() -> float:
    """The machine's pure-Python speed: seconds to sum 1e7 integers in a fresh `python3 -c`
    (about 1.8 s on a Raspberry Pi-like VM); quote it beside every figure."""
    import subprocess
    import time

    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "s = 0\nfor i in range(10_000_000): s += i"], check=True)
    return round(time.perf_counter() - started, 3)
