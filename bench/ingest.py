"""Ingest benchmark: the gateway against a bare paho subscriber, through a real Mosquitto.

(a) baseline_eps: a bare paho QoS 1 subscriber that parses JSON drains N queued messages;
(b) gateway_eps: the real gateway drains the same N messages, each committed (synchronous=FULL)
    before its PUBACK;
(c) p50/p99 publish→commit latency at loads that are fractions of (a) measured in the same run
    (default 25 % and 50 %), so the load scales with the machine; `--rate` adds a fixed rate;
(d) the gateway process's peak RSS.
Both (a) and (b) drain a queue the broker already holds, so the publisher's own speed does not cap
either side. Runs several times and reports medians; every result carries the CPU reference (the
pure-Python loop time, measured before and after the runs, and the load average); the last line is
one JSON object. To run it on a throttled CPU: bench/throttle.py.

    python bench/ingest.py [--runs 3] [--count 30000] [--fractions 0.25,0.5] [--rate 2000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from _common import ROOT, cpu_reference, emit, loop_time, machine, median, percentile
from throttle import CpuThrottle, loop_inside

from tests.support.mosquitto import Mosquitto

TOPIC = "tele/shop1_bench/SENSOR"
# The gateway under test runs from a file of its own, so that its process holds the gateway and
# nothing of this orchestrator (its RSS is one of the figures).
GATEWAY_ROLE = Path(__file__).with_name("_ingest_gateway.py")

# Settings for the gateway under test, on top of the broker and database.
PARTS: dict[str, dict[str, object]] = {
    "full": {},
    "sensors": {"voice": {"enabled": False}, "tts": {"enabled": False}},
}


def payload(n: int, at: float | None = None) -> bytes:
    stamp = datetime.fromtimestamp(time.time() if at is None else at, timezone.utc).isoformat()
    return json.dumps({"Time": stamp, "AM2301": {"Temperature": 20.5, "Humidity": 40.0 + n % 50}, "TempUnit": "C"}).encode()


# -- roles run in child processes -------------------------------------------------------------
def role_baseline(port: int, count: int, setup: bool) -> None:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    received = 0
    first = done = 0.0
    finished = threading.Event()

    def on_message(client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        nonlocal received, first, done
        json.loads(msg.payload)
        if received == 0:
            first = time.perf_counter()
        received += 1
        if received >= count:
            done = time.perf_counter()
            finished.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-baseline", protocol=paho.MQTTv5)
    client.on_message = on_message
    subscribed = threading.Event()
    client.on_subscribe = lambda *a: subscribed.set()
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 1000
    client.on_connect = lambda c, *a: c.subscribe(TOPIC, qos=1)
    started = time.perf_counter()
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    subscribed.wait(10)
    if not setup:
        finished.wait(300)
    client.loop_stop()
    client.disconnect()
    print(json.dumps({"eps": count / (done - started) if done else 0.0, "received": received}))


# -- orchestration ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ChildOptions:
    """How the gateway under test runs: traced (bench/_ingest_trace.py), and/or inside a CPU
    throttle of its own (bench/throttle.py's cgroup), apart from the broker and the publisher."""

    trace: bool = False
    throttle: CpuThrottle | None = None


class GatewayChild:
    def __init__(self, config: Path, count: int, out: Path, options: ChildOptions | None = None) -> None:
        self.out = out
        options = options or ChildOptions()
        self.proc = subprocess.Popen(
            [sys.executable, str(GATEWAY_ROLE), "--config", str(config), "--count", str(count), "--out", str(out)]
            + (["--trace"] if options.trace else []),
            preexec_fn=options.throttle.enter if options.throttle else None,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline() if ready else ""
        if "READY" not in line:
            self.proc.kill()
            raise RuntimeError(f"gateway child did not become ready: {line!r}")

    def stop(self) -> dict[str, object]:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        return json.loads(self.out.read_text())


def publish(port: int, count: int, rate: float | None, client_id: str) -> float:
    """Publish `count` QoS 1 messages, as fast as possible or paced at `rate` per second.

    Paced publishing runs paho without its network thread: each message is written to the socket
    in `publish()` itself and PUBACKs are read between messages, so the timestamp in the payload
    is not skewed by the publisher's own threads waiting for the GIL.
    """
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    if rate:
        return _publish_paced(client, count, rate)
    client.loop_start()
    started = time.perf_counter()
    pending = []
    for n in range(count):
        pending.append(client.publish(TOPIC, payload(n), qos=1))
        # paho message ids wrap at 65535: wait before the window could reuse one.
        if len(pending) >= 20_000:
            for info in pending:
                info.wait_for_publish(60)
            pending.clear()
    for info in pending:
        info.wait_for_publish(60)
    achieved = count / (time.perf_counter() - started)
    client.loop_stop()
    client.disconnect()
    return achieved


def _publish_paced(client: object, count: int, rate: float) -> float:
    """Returns the rate achieved: below `rate` when the publisher could not keep up (a slow CPU)."""
    import paho.mqtt.client as paho

    assert isinstance(client, paho.Client)
    while not client.is_connected():
        client.loop(0.05)
    interval = 1.0 / rate
    start = time.perf_counter()
    infos = []
    for n in range(count):
        while (delay := start + n * interval - time.perf_counter()) > 0:
            client.loop(min(delay, 0.002))  # read PUBACKs while waiting for the slot
        infos.append(client.publish(TOPIC, payload(n), qos=1))
    achieved = count / max(time.perf_counter() - start, 1e-9)
    deadline = time.monotonic() + 60
    while not all(info.is_published() for info in infos) and time.monotonic() < deadline:
        client.loop(0.01)
    client.disconnect()
    return achieved


def run_child(args: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def wait_committed(db: Path, count: int, timeout: float = 300) -> None:
    import sqlite3

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as conn:
            if conn.execute("SELECT count(*) FROM events").fetchone()[0] >= count:
                return
        time.sleep(0.1)
    raise TimeoutError("gateway did not commit everything")


def write_config(path: Path, port: int, client_id: str, db: Path, parts: dict[str, object]) -> Path:
    config: dict[str, object] = {
        "site_id": "shop1",
        "log_level": "WARNING",
        "mqtt": {"port": port, "client_id": client_id},
        "store": {"path": str(db)},
    }
    for section, values in parts.items():  # merged: a part's settings must not drop the store path
        config[section] = {**config.get(section, {}), **values}  # type: ignore[dict-item]
    path.write_text(yaml.safe_dump(config))
    return path


def one_run(
    workdir: Path,
    count: int,
    fractions: list[float],
    fixed_rate: float,
    seconds: float,
    parts: dict[str, object],
    options: ChildOptions,
) -> dict[str, Any]:
    with Mosquitto(workdir / "broker") as broker:
        port = broker.port
        # (a) baseline: create the session, queue N messages, time the drain.
        run_child(["--role", "baseline", "--port", str(port), "--count", str(count), "--setup"])
        publish(port, count, None, "bench-pub-a")
        baseline = run_child(["--role", "baseline", "--port", str(port), "--count", str(count)])

        # (b) gateway: same, with the real gateway committing every event before its PUBACK.
        db = workdir / "drain.db"
        config = write_config(workdir / "drain.yaml", port, "bench-gw", db, parts)
        GatewayChild(config, count, workdir / "setup.json", ChildOptions(throttle=options.throttle)).stop()
        publish(port, count, None, "bench-pub-b")
        drain = GatewayChild(config, count, workdir / "drain.json", options)
        wait_committed(db, count)
        drained = drain.stop()

        # (c) latency at rates scaled to (a), each on a fresh database; (d) RSS of those processes.
        rates = {_load_key(f): f * baseline["eps"] for f in fractions}
        if fixed_rate:
            rates[f"at_{fixed_rate:g}"] = fixed_rate
        loads = {
            key: _latency_at(workdir, port, key, rate, seconds, parts, options) for key, rate in rates.items() if rate > 0
        }
    result: dict[str, Any] = {
        "baseline_eps": baseline["eps"],
        "gateway_eps": float(drained["eps"]),  # type: ignore[arg-type]
        "rss_mb": max([float(drained["rss_mb"])] + [load["rss_mb"] for load in loads.values()]),  # type: ignore[arg-type]
        # RSS once ready, before any message: what imports and start-up cost, apart from the load
        "rss_ready_mb": float(drained["rss_ready_mb"]),  # type: ignore[arg-type]
        "rss_drain_mb": float(drained["rss_mb"]),  # type: ignore[arg-type]
    }
    for key, load in loads.items():
        for name in ("rate", "rate_achieved", "p50_ms", "p99_ms", "p99_receive_ms", "max_ms"):
            result[f"{name}_{key}"] = load[name]
    if options.trace:
        result["trace"] = {"drain": drained.get("trace"), **{key: load["trace"] for key, load in loads.items()}}
    return result


def _load_key(fraction: float) -> str:
    return f"at_{round(fraction * 100):d}pct"


def _latency_at(
    workdir: Path, port: int, key: str, rate: float, seconds: float, parts: dict[str, object], options: ChildOptions
) -> dict[str, Any]:
    """Publish→commit latencies of a gateway on a fresh database at `rate` messages per second."""
    db = workdir / f"latency-{key}.db"
    config = write_config(workdir / f"latency-{key}.yaml", port, f"bench-gw-{key}", db, parts)
    count = max(1, int(rate * seconds))
    child = GatewayChild(config, count, workdir / f"latency-{key}.json", options)
    achieved = publish(port, count, rate, f"bench-pub-{key}")
    wait_committed(db, count)
    timed = child.stop()
    latencies = timed["latencies_ms"]
    assert isinstance(latencies, list)
    return {
        "rate": round(rate, 1),
        "rate_achieved": round(achieved, 1),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies, default=float("nan")),
        # publish→read by the gateway: the part the broker, the network and the loop's reading add
        "p99_receive_ms": percentile(timed["receive_latencies_ms"], 99),  # type: ignore[arg-type]
        "rss_mb": float(timed["rss_mb"]),  # type: ignore[arg-type]
        "trace": timed.get("trace"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["baseline"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--count", type=int, default=30_000)
    parser.add_argument("--setup", action="store_true")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--fractions",
        type=lambda text: [float(x) for x in text.split(",") if x],
        default=[0.25, 0.5],
        help="latency loads as fractions of the baseline rate measured in the same run (comma-separated)",
    )
    parser.add_argument("--trace", action="store_true", help="where the gateway's time went (bench/_ingest_trace.py)")
    parser.add_argument(
        "--throttle-gateway",
        type=float,
        metavar="CPUS",
        help="run only the gateway under test in a CPU quota (bench/throttle.py's cgroup), the broker, the"
        " publisher and the baseline subscriber free; the loop time inside that quota is reported",
    )
    parser.add_argument("--rate", type=float, default=0, help="also measure latency at this fixed rate (ev/s)")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--parts",
        choices=sorted(PARTS),
        default="sensors",
        help="which gateway: 'full' = every part on (voice, TTS, rules, consent, sync, API off as by default);"
        " 'sensors' = a shop without speakers (voice and TTS off)",
    )
    args = parser.parse_args()
    if args.role == "baseline":
        role_baseline(args.port, args.count, args.setup)
        return
    with contextlib.ExitStack() as stack:
        throttle = stack.enter_context(CpuThrottle(args.throttle_gateway, 5.0, None)) if args.throttle_gateway else None
        summary = _runs(args, ChildOptions(args.trace, throttle))
    emit(summary)


def _runs(args: argparse.Namespace, options: ChildOptions) -> dict[str, object]:
    loop_at_start = loop_time()
    gateway_loop_at_start = loop_inside(options.throttle) if options.throttle else None
    runs = []
    for index in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="touchgate-bench-") as tmp:
            result = one_run(Path(tmp), args.count, args.fractions, args.rate, args.seconds, PARTS[args.parts], options)
        result["ratio"] = result["gateway_eps"] / result["baseline_eps"]
        runs.append(result)
        print(f"run {index + 1}: " + json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}), file=sys.stderr)
    keys = [k for k in runs[0] if k in {"baseline_eps", "gateway_eps", "ratio", "rss_mb"} or k.startswith(("p50_", "p99_", "rate_"))]
    summary: dict[str, object] = {k: round(median([r[k] for r in runs]), 3) for k in keys}
    summary.update(
        {
            "bench": "ingest",
            "runs": args.runs,
            "count": args.count,
            "seconds": args.seconds,
            "fractions": args.fractions,
            "parts": args.parts,
            "cpu": cpu_reference(loop_at_start),
            "machine": machine(),
            "per_run": runs,
        }
    )
    if options.throttle is not None:
        summary["gateway_throttle"] = {
            **options.throttle.describe(),
            "loop_start": gateway_loop_at_start,
            "loop_end": loop_inside(options.throttle),
            "throttled_s": options.throttle.throttled_seconds(),
        }
    return summary


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
