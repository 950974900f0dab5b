"""Shared bits of the benchmarks: machine description, medians, a JSON last line."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
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


# The CPU reference every figure is printed beside: `python3 -c` summing 10 million integers, timed
# as a whole (interpreter start included, as the figures in the issues and docs were taken). Wall
# time is what a benchmark's figures feel; CPU time is what the loop needed: on a busy or throttled
# machine wall > CPU, and the gap says how much of the CPU the run actually got.
_LOOP = "sum(range(10_000_000))"
# Set by bench/throttle.py for the command it runs, so a result says it was taken throttled.
THROTTLE_ENV = "TOUCHGATE_BENCH_THROTTLE"


def loop_time() -> dict[str, float]:
    """One pure-Python loop: {"loop_s": wall seconds, "loop_cpu_s": CPU seconds (user + sys)}."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", _LOOP])
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
    if child.returncode != 0:
        raise RuntimeError(f"the reference loop failed with {child.returncode}")
    return {"loop_s": round(wall, 3), "loop_cpu_s": round(usage.ru_utime + usage.ru_stime, 3)}


def cpu_reference(start: dict[str, float] | None = None) -> dict[str, object]:
    """The CPU reference to print beside a result: the loop time now (and at `start`, measured
    before the run, if given), the load average and the throttle the run was under, if any.

    Figures from different machines, or from one machine at different moments, compare only
    through this: a shared machine's loop time can move several-fold within minutes."""
    now = loop_time()
    reference: dict[str, object] = {"loadavg": [round(x, 2) for x in os.getloadavg()]}
    if start is not None:
        reference["loop_s_start"] = start["loop_s"]
        reference["loop_s_end"] = now["loop_s"]
        reference["loop_s"] = round((start["loop_s"] + now["loop_s"]) / 2, 3)
        reference["loop_cpu_s"] = round((start["loop_cpu_s"] + now["loop_cpu_s"]) / 2, 3)
    else:
        reference.update(now)
    throttle = os.environ.get(THROTTLE_ENV)
    if throttle:
        reference["throttle"] = json.loads(throttle)
    return reference


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[index]


def emit(result: dict[str, object]) -> None:
    """The last line. Every result carries the CPU reference: measured here, at its end, unless
    the benchmark measured it around its runs itself."""
    if "cpu" not in result:
        result = {**result, "cpu": cpu_reference()}
    print(json.dumps(result, sort_keys=True))


def loop_time_s() -> float:
    """The machine's pure-Python speed: seconds to sum 1e7 integers in a fresh `python3 -c`
    (about 1.8 s on a Raspberry Pi-like VM); quote it beside every figure."""
    import subprocess
    import time

    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "s = 0\nfor i in range(10_000_000): s += i"], check=True)
    return round(time.perf_counter() - started, 3)


def stop_process(process: subprocess.Popen[bytes], grace_s: float = 20.0) -> None:
    """SIGTERM (the gateway's clean stop), SIGKILL after `grace_s`; always reaped."""
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
