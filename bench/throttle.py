"""Run any benchmark on a throttled CPU, beside the same benchmark unthrottled.

    python bench/throttle.py --quota 0.3 [--period-ms 5] [--cpus 0] -- python bench/ingest.py --runs 1
    python bench/throttle.py --target-loop 1.8 -- python bench/voice.py
    python bench/throttle.py --target-loop 1.8 --cores 4 -- python bench/voice.py

The throttle is a CPU quota on a transient cgroup made for the run (cgroup v2 `cpu.max`, or v1
`cpu.cfs_quota_us` where the machine mounts the v1 cpu controller), optionally with the processes
pinned to some CPUs (`--cpus`, as `taskset -c`); where no cgroup is writable only the pinning is
applied, and the output says so. The quota covers every process of the command (the broker and the
publishers too, as on a Pi where they share its CPU), counted in CPUs: 0.3 = 30 ms of CPU time per
100 ms, across all cores.

`--cores N` makes the quota N slow cores instead of one slow CPU (cgroup v1; bench/_slow_cores.py):
every thread of the command gets one core's quota in a group of its own, and all of them together
N times it. So no thread runs faster than one slow core and at most N run at once: the issue's
2-core VM is `--cores 2`, a Pi 4/5 `--cores 4`. With `--target-loop` the per-core quota is dialled
in (`quota_cpus` in the output is one core's).

`--target-loop S` dials the quota in: it is set so the reference loop (`python3 -c` summing 10
million integers), run inside the throttle, takes about S seconds; the issue's Pi-class machine is
S ≈ 1.8. The quota's period is short (5 ms by default) because a throttled group runs in bursts and
then waits for the next period: with 100 ms periods a 0.3 quota stalls every process 70 ms at a
time, a latency no slow CPU has.

The loop time is measured inside the throttle before and after the command, and outside it (for
the unthrottled run). Output: the command's own output on stderr, then one JSON object with both
runs' last JSON lines, the quota and the loop times.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from _common import THROTTLE_ENV, emit, loop_time, machine
from _slow_cores import ThreadSorter, throttled_seconds

CGROUP_ROOT = Path("/sys/fs/cgroup")
_MIN_QUOTA_US = 1000
_LOOP = "sum(range(10_000_000))"


class CpuThrottle:
    """A transient cgroup with a CPU quota, and/or a CPU affinity, for the processes started in it."""

    def __init__(self, quota: float | None, period_ms: float, cpus: set[int] | None, cores: int | None = None) -> None:
        self.quota = quota
        self.period_us = int(period_ms * 1000)
        self.cpus = cpus
        self.cores = cores
        self.mechanism = "none"
        self._dir: Path | None = None
        self._sorter: ThreadSorter | None = None

    def __enter__(self) -> CpuThrottle:
        if self.quota is not None:
            self._dir, self.mechanism = _make_cgroup(f"touchgate-throttle-{os.getpid()}")
            if self.cores is not None and self.mechanism != "cgroup-v1":
                self.__exit__(None, None, None)
                raise SystemExit(f"throttle: --cores needs cgroup v1's cpu controller (per-thread groups); here: {self.mechanism}")
            if self._dir is not None:
                if self.cores is not None:
                    self._sorter = ThreadSorter(self._dir, 0, self.period_us)
                self.set_quota(self.quota)
                if self._sorter is not None:
                    self._sorter.start()
        if self.cpus:
            self.mechanism += "+taskset"
        return self

    def set_quota(self, quota: float) -> None:
        self.quota = quota
        if self._dir is None:
            return
        # The kernel's smallest quota is 1 ms per period: a small quota needs a longer period
        # (0.1 CPU → 10 ms), or it would silently be more than asked.
        self.period_us = max(self.period_us, int(_MIN_QUOTA_US / quota) + 1)
        quota_us = int(quota * self.period_us)
        if self.mechanism.startswith("cgroup-v2"):
            (self._dir / "cpu.max").write_text(f"{quota_us} {self.period_us}")
        else:
            # v1 checks quota against period on each write: the period first, then the quota.
            (self._dir / "cpu.cfs_quota_us").write_text("-1")
            (self._dir / "cpu.cfs_period_us").write_text(str(self.period_us))
            if self._sorter is not None and self.cores is not None:
                # Each thread's own group gets one core's quota; the parent holds N cores' worth.
                self._sorter.set_quota(quota_us, self.period_us)
                quota_us *= self.cores
            (self._dir / "cpu.cfs_quota_us").write_text(str(quota_us))

    def enter(self) -> None:
        """In a child between fork and exec: join the cgroup, take the CPU affinity."""
        if self._dir is not None:
            (self._dir / "cgroup.procs").write_text("0")
        if self.cpus:
            os.sched_setaffinity(0, self.cpus)

    def describe(self) -> dict[str, object]:
        return {
            "mechanism": self.mechanism,
            "quota_cpus": round(self.quota, 3) if self._dir is not None and self.quota is not None else None,
            "period_ms": self.period_us / 1000 if self._dir is not None else None,
            "cpus": sorted(self.cpus) if self.cpus else None,
            "cores": self.cores if self._sorter is not None else None,
        }

    def throttled_seconds(self) -> float | None:
        """How long the group spent throttled (the kernel's own count), if the cgroup reports it."""
        if self._dir is None:
            return None
        own = throttled_seconds(self._dir)
        if self._sorter is None or own is None:
            return own
        return round(own + self._sorter.throttled_s(), 3)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._dir is None:
            return
        children = self._sorter.stop() if self._sorter is not None else []
        groups = [*children, self._dir]
        # Only our own command's processes can be in it: any left over are stopped, then it goes.
        deadline = time.monotonic() + 10
        while (pids := [int(p) for g in groups for p in (g / "cgroup.procs").read_text().split()]) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        for group in groups:
            group.rmdir()
        self._dir = None


def _make_cgroup(name: str) -> tuple[Path | None, str]:
    """A new cgroup with the cpu controller: v2 where the unified hierarchy has it, else v1's."""
    controllers = CGROUP_ROOT / "cgroup.controllers"
    if controllers.exists() and "cpu" in controllers.read_text().split():
        try:
            subtree = CGROUP_ROOT / "cgroup.subtree_control"
            if "cpu" not in subtree.read_text().split():
                subtree.write_text("+cpu")
            path = CGROUP_ROOT / name
            path.mkdir()
            return path, "cgroup-v2"
        except OSError as exc:
            print(f"throttle: cgroup v2 not writable ({exc})", file=sys.stderr)
    v1 = CGROUP_ROOT / "cpu"
    if (v1 / "cpu.cfs_quota_us").exists():
        try:
            path = v1 / name
            path.mkdir()
            return path, "cgroup-v1"
        except OSError as exc:
            print(f"throttle: cgroup v1 cpu not writable ({exc})", file=sys.stderr)
    print("throttle: no writable cgroup with a cpu controller; only --cpus (taskset) applies", file=sys.stderr)
    return None, "none"


def loop_inside(throttle: CpuThrottle) -> dict[str, float]:
    """The reference loop run inside the throttle (interpreter start included, as outside)."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", _LOOP], preexec_fn=throttle.enter)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return {"loop_s": round(time.perf_counter() - started, 3), "loop_cpu_s": round(usage.ru_utime + usage.ru_stime, 3)}


def dial_in(throttle: CpuThrottle, target_s: float, rounds: int = 4) -> None:
    """Adjust the quota until the loop inside takes about `target_s` (within 10 %)."""
    for _ in range(rounds):
        measured = loop_inside(throttle)["loop_s"]
        print(f"throttle: quota {throttle.quota:.3f} CPUs → loop {measured:.2f} s (target {target_s})", file=sys.stderr)
        if abs(measured - target_s) <= 0.1 * target_s:
            return
        assert throttle.quota is not None
        throttle.set_quota(min(float(os.cpu_count() or 1), max(0.02, throttle.quota * measured / target_s)))


def run_command(command: list[str], throttle: CpuThrottle | None) -> dict[str, object]:
    """Run the benchmark, its output passed through to stderr; returns its last JSON line."""
    env = dict(os.environ)
    if throttle is not None:
        env[THROTTLE_ENV] = json.dumps(throttle.describe())
    started = time.perf_counter()
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, env=env, preexec_fn=throttle.enter if throttle else None
    )
    assert child.stdout is not None
    last = ""
    for line in child.stdout:
        sys.stderr.write(line)
        if line.strip():
            last = line
    code = child.wait()
    result: dict[str, object] = {"exit_code": code, "wall_s": round(time.perf_counter() - started, 1)}
    try:
        result["result"] = json.loads(last)
    except json.JSONDecodeError:
        result["result"] = None
    return result


def main() -> None:
    # SIGTERM (a timeout, an impatient operator) unwinds like Ctrl-C, so the cgroup is removed.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quota", type=float, help="CPU time allowed, in CPUs (0.3 = 30 %% of one core)")
    group.add_argument("--target-loop", type=float, help="choose the quota so the reference loop takes this long")
    parser.add_argument("--period-ms", type=float, default=5.0, help="the quota's period (1-1000 ms)")
    parser.add_argument("--cpus", type=lambda t: {int(c) for c in t.split(",")}, help="pin to these CPUs, e.g. 0")
    parser.add_argument(
        "--cores", type=int, help="emulate N slow cores: each thread at most the quota, all together N times it (cgroup v1)"
    )
    parser.add_argument("--no-unthrottled", action="store_true", help="skip the unthrottled run")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the benchmark command")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given (after --)")
    if not 1 <= args.period_ms <= 1000:
        parser.error("--period-ms must be 1-1000")

    report: dict[str, object] = {"bench": "throttle", "command": command, "machine": machine()}
    if not args.no_unthrottled:
        before = loop_time()
        run = run_command(command, None)
        report["unthrottled"] = {**run, "loop_start": before, "loop_end": loop_time(), "loadavg": [round(x, 2) for x in os.getloadavg()]}
    quota = args.quota
    if args.target_loop is not None:
        quota = loop_time()["loop_cpu_s"] / args.target_loop
    if args.cores is not None and (args.cores < 1 or quota is None):
        parser.error("--cores needs --quota or --target-loop, and N >= 1")
    with CpuThrottle(quota, args.period_ms, args.cpus, args.cores) as throttle:
        if args.target_loop is not None:
            dial_in(throttle, args.target_loop)
        before = loop_inside(throttle)
        run = run_command(command, throttle)
        after = loop_inside(throttle)
        report["throttled"] = {
            **run,
            **throttle.describe(),
            "loop_start": before,
            "loop_end": after,
            "throttled_s": throttle.throttled_seconds(),
            "loadavg": [round(x, 2) for x in os.getloadavg()],
        }
    emit(report)


if __name__ == "__main__":
    main()
