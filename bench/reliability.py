"""The long reliability runs: SIGKILLs under load while the central service fails, a large fuzz
through the broker, and a soak. Prints one JSON object as its last line:

  kills, acked, lost, duplicates, fuzzed, crashes, rss_growth_mb_per_hour, plus details and the
  machine it ran on.

`lost` and `duplicates` add up the local store (kill and soak runs) and the central store (kill
run); `crashes` counts gateway processes that died by themselves (not by our SIGKILL).

    .venv/bin/python bench/reliability.py                       # 20 kills, 100k fuzzed, 10 min soak
    .venv/bin/python bench/reliability.py --kills 3 --fuzz-messages 5000 --soak-minutes 1
    .venv/bin/python bench/reliability.py --long                # adds 100k schema-fuzzed messages
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

from _common import cpu_reference, emit, loop_time, machine
from prometheus_client.parser import text_string_to_metric_families

from profile_service.launch import ProfileServiceProcess, service_command
from tests.reliability.killing import kill_run
from tests.reliability.soak import run_soak
from tests.support.clients import Publisher
from tests.support.fuzz import FuzzCorpus, Surface
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.procs import GatewayProcess, write_config
from tests.sync.conftest import ADMIN_TOKEN, OTHER_SITE, OTHER_TOKEN, SITE, SITE_TOKEN, Central, seed_file
from tests.sync.faulty_proxy import FaultyProxy

API_TOKEN = "bench-reliability-token-7f3a9c2e5b8d"
SCHEMA_CHUNK = 300  # examples per seeded hypothesis run (per source, round-robin)


# -- kills ----------------------------------------------------------------------------------
async def kills_phase(workdir: Path, kills: int) -> dict[str, object]:
    with Mosquitto(workdir / "broker") as broker:
        command = service_command(
            free_port(), workdir / "central.db", {SITE: SITE_TOKEN, OTHER_SITE: OTHER_TOKEN}, seed_file(workdir), ADMIN_TOKEN
        )
        with ProfileServiceProcess(command) as process:
            assert process.url is not None
            central = Central(process, workdir / "central.db", process.url)
            host, port = central.url.removeprefix("http://").split(":")
            proxy = FaultyProxy(host, int(port))
            await proxy.start()
            try:
                result = await kill_run(broker, central, proxy, workdir, kills=kills)
            finally:
                await proxy.stop()
    return {
        "kills": result.kills,
        "kills_poison_quarantined": result.quarantined,
        "acked": result.local.acked,
        "local_lost": result.local.lost,
        "local_duplicates": result.local.duplicates,
        "central_lost": result.central.lost,
        "central_duplicates": result.central.duplicates,
        "central_ids_unique": result.central_ids_unique,
        "central_matches_local": result.central_matches_local,
        "unconsented_leaked": result.unconsented_leaked,
        "fault_hits": result.fault_hits,
    }


# -- fuzz -----------------------------------------------------------------------------------
def metrics(url: str) -> dict[str, float]:
    request = urllib.request.Request(url + "/metrics", headers={"Authorization": f"Bearer {API_TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}


def ingest(m: dict[str, float], key: str) -> int:
    return int(m.get(f"touchgate_ingest_{key}_total", m.get(f"touchgate_ingest_{key}", 0)))


def in_flight(m: dict[str, float]) -> int:
    taken = ingest(m, "received") + ingest(m, "submitted_dead_letters")
    settled = sum(ingest(m, k) for k in ("stored", "dropped", "dead_letters", "redeliveries_skipped"))
    return taken - settled


def fuzz_phase(workdir: Path, count: int, seed: int = 2024) -> dict[str, object]:
    api_port = free_port()
    url = f"http://127.0.0.1:{api_port}"
    crashes = 0
    sensor_sent = 0
    with Mosquitto(workdir / "broker") as broker:
        config = write_config(
            workdir / "fuzz.yaml", broker, workdir / "fuzz.db",
            api={"enabled": True, "port": api_port, "token": API_TOKEN},
        )
        gateway = GatewayProcess(config)
        gateway.start()
        began = time.monotonic()
        corpus = FuzzCorpus(seed).messages(count)
        with Publisher(broker.host, broker.port, client_id="bench-fuzz") as pub:
            window: list[object] = []
            for message in corpus:
                window.append(pub.publish(message.topic, message.payload, qos=message.qos))
                sensor_sent += message.surface is Surface.SENSOR
                if len(window) >= 500:
                    for info in window:
                        info.wait_for_publish(120)  # type: ignore[attr-defined]
                    window.clear()
                    if gateway.proc is None or gateway.proc.poll() is not None:
                        crashes += 1  # died by itself: say why, and carry on with a new one
                        print("gateway died:\n" + "\n".join(gateway.lines[-40:]), file=sys.stderr, flush=True)
                        gateway.start()
            for info in window:
                info.wait_for_publish(120)  # type: ignore[attr-defined]
        published_s = time.monotonic() - began
        # Settled: every sensor message taken in, and everything taken in accounted for.
        deadline = time.monotonic() + 300
        m = metrics(url)
        while time.monotonic() < deadline and not (ingest(m, "received") >= sensor_sent and in_flight(m) == 0):
            time.sleep(0.5)
            m = metrics(url)
        canary_ok = _canary(broker, url, ingest(m, "stored"))
        if gateway.proc is None or gateway.proc.poll() is not None:
            crashes += 1
        rss_mb = _rss_mb(gateway)
        code = gateway.stop()
        if code not in (0, -15):
            crashes += 1
    return {
        "fuzzed": count,
        "fuzz_sensor_messages": sensor_sent,
        "fuzz_received": ingest(m, "received"),
        "fuzz_stored": ingest(m, "stored"),
        "fuzz_dead_letters": ingest(m, "dead_letters"),
        "fuzz_dropped": ingest(m, "dropped"),
        "fuzz_in_flight_after": in_flight(m),
        "fuzz_reconciled": ingest(m, "received") == sensor_sent and in_flight(m) == 0,
        "fuzz_canary_stored": canary_ok,
        "fuzz_publish_seconds": round(published_s, 1),
        "fuzz_rss_end_mb": rss_mb,
        "crashes": crashes,
    }


def schema_fuzz_phase(workdir: Path, count: int, minutes: float, workers: int) -> dict[str, object]:
    """Messages shaped by the schemas (every device profile, every routed Hermes control model,
    consent and erasure; tests/support/schema_fuzz.py) through the broker into one gateway process.

    Drawn in chunks of a few hundred per source, round-robin, in `workers` processes, and sent
    chunk by chunk while the next are drawn (`draw_in_chunks`): one hypothesis run of 100k
    examples never finished on a shared machine. Stops at `count` distinct messages or after
    `minutes`, whichever is first, and says which (`schema_target`, `schema_stopped_by`)."""
    from tests.support.schema_fuzz import draw_in_chunks

    api_port = free_port()
    url = f"http://127.0.0.1:{api_port}"
    crashes = 0
    by_source: Counter[str] = Counter()
    stopped_by = "count"
    with Mosquitto(workdir / "broker") as broker:
        config = write_config(
            workdir / "schema.yaml", broker, workdir / "schema.db", api={"enabled": True, "port": api_port, "token": API_TOKEN}
        )
        gateway = GatewayProcess(config)
        gateway.start()
        began = time.monotonic()
        deadline = began + minutes * 60
        with Publisher(broker.host, broker.port, client_id="bench-schema-fuzz") as pub:
            for source, messages in draw_in_chunks(count, chunk=SCHEMA_CHUNK, workers=workers):
                window = [pub.publish(topic, payload, qos=1) for topic, payload in messages]
                for info in window:
                    info.wait_for_publish(120)
                by_source[source] += len(messages)
                if gateway.proc is None or gateway.proc.poll() is not None:
                    crashes += 1  # died by itself: say why, and carry on with a new one
                    print("gateway died:\n" + "\n".join(gateway.lines[-40:]), file=sys.stderr, flush=True)
                    gateway.start()
                if sum(by_source.values()) // 10_000 != (sum(by_source.values()) - len(messages)) // 10_000:
                    print(json.dumps({"phase": "schema", "sent": sum(by_source.values()), "seconds": round(time.monotonic() - began)}), flush=True)
                if time.monotonic() > deadline:
                    stopped_by = "time"
                    break
        sent_s = time.monotonic() - began
        sensor_sent = sum(n for source, n in by_source.items() if source.startswith("profile:"))
        # Settled: every sensor message taken in, and everything taken in accounted for.
        settle_deadline = time.monotonic() + 300
        m = metrics(url)
        while time.monotonic() < settle_deadline and not (ingest(m, "received") >= sensor_sent and in_flight(m) == 0):
            time.sleep(0.5)
            m = metrics(url)
        canary_ok = _canary(broker, url, ingest(m, "stored"))
        if gateway.proc is None or gateway.proc.poll() is not None:
            crashes += 1
        rss_mb = _rss_mb(gateway)
        code = gateway.stop()
        if code not in (0, -15):
            crashes += 1
    fuzzed = sum(by_source.values())
    surfaces: Counter[str] = Counter()
    for source, n in by_source.items():
        surfaces[source.split(":", 1)[0]] += n
    return {
        "schema_fuzzed": fuzzed,
        "schema_target": count,
        "schema_stopped_by": stopped_by,
        "schema_seconds": round(sent_s, 1),
        "schema_per_second": round(fuzzed / sent_s, 1) if sent_s else None,
        "schema_workers": workers,
        "schema_by_surface": dict(surfaces),  # profile (sensors), hermes, consent, erasure
        "schema_sources": len(by_source),
        "schema_min_per_source": min(by_source.values(), default=0),
        "schema_crashes": crashes,
        "schema_internal_errors": ingest(m, "internal_errors"),
        "schema_received": ingest(m, "received"),
        "schema_stored": ingest(m, "stored"),
        "schema_dead_letters": ingest(m, "dead_letters"),
        "schema_in_flight_after": in_flight(m),
        "schema_reconciled": ingest(m, "received") >= sensor_sent and in_flight(m) == 0,
        "schema_canary_stored": canary_ok,
        "schema_rss_end_mb": rss_mb,
        "poison_quarantined": ingest(m, "poison_quarantined"),
    }


def _canary(broker: Mosquitto, url: str, stored_before: int) -> bool:
    with Publisher(broker.host, broker.port, client_id="bench-canary") as pub:
        pub.publish_all([("zigbee2mqtt/shop1/canary", json.dumps({"occupancy": True}))])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if ingest(metrics(url), "stored") > stored_before:
            return True
        time.sleep(0.2)
    return False


def _rss_mb(gateway: GatewayProcess) -> float | None:
    import psutil

    if gateway.proc is None or gateway.proc.poll() is not None:
        return None
    return round(psutil.Process(gateway.proc.pid).memory_info().rss / 2**20, 1)


# -- soak -----------------------------------------------------------------------------------
def soak_phase(workdir: Path, minutes: float, rate: float) -> dict[str, object]:
    with Mosquitto(workdir / "broker") as broker:
        result = run_soak(broker, workdir, seconds=minutes * 60, sample_s=5.0, sensor_rate=rate)
    summary = result.summary()
    summary["soak_crashes"] = int(result.crashed)
    summary["soak_rss_samples_mb"] = [round(s.rss_mb, 1) for s in result.samples]
    summary["soak_rss_file_samples_mb"] = [round(s.file_mb, 1) for s in result.samples]
    summary["soak_p99_samples_ms"] = [None if s.p99_ms is None else round(s.p99_ms, 1) for s in result.samples]
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs of the gateway under load (0 skips)")
    parser.add_argument("--fuzz-messages", type=int, default=100_000, help="fuzzed messages through the broker (0 skips)")
    parser.add_argument("--soak-minutes", type=float, default=10.0, help="length of the soak (0 skips)")
    parser.add_argument("--soak-rate", type=float, default=200.0, help="sensor messages per second during the soak")
    parser.add_argument(
        "--schema-fuzz", type=int, default=0,
        help="schema-shaped messages (profiles, Hermes, consent) through the broker; the long mode is 100000 (0 skips)",
    )
    parser.add_argument("--schema-minutes", type=float, default=25.0, help="stop the schema fuzz after this long (reported)")
    parser.add_argument("--schema-workers", type=int, default=2, help="processes drawing schema-shaped messages")
    parser.add_argument("--long", action="store_true", help="the long mode: --schema-fuzz 100000 unless given")
    args = parser.parse_args()
    if args.long and not args.schema_fuzz:
        args.schema_fuzz = 100_000
    reference_start = loop_time()
    result: dict[str, object] = {"bench": "reliability", "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="touchgate-reliability-") as tmp:
        root = Path(tmp)
        kills = asyncio.run(kills_phase(root / "kills", args.kills)) if args.kills else {}
        print(json.dumps({"phase": "kills", **kills}), flush=True)
        fuzz = fuzz_phase(root / "fuzz", args.fuzz_messages) if args.fuzz_messages else {}
        print(json.dumps({"phase": "fuzz", **fuzz}), flush=True)
        schema = schema_fuzz_phase(root / "schema", args.schema_fuzz, args.schema_minutes, args.schema_workers) if args.schema_fuzz else {}
        print(json.dumps({"phase": "schema", **schema}), flush=True)
        soak = soak_phase(root / "soak", args.soak_minutes, args.soak_rate) if args.soak_minutes else {}
        print(json.dumps({"phase": "soak", **{k: v for k, v in soak.items() if not k.endswith("_samples_ms")}}), flush=True)
    result.update(kills)
    result.update(fuzz)
    result.update(soak)
    result.update(schema)
    result.setdefault("schema_fuzzed", 0)
    result.setdefault("schema_crashes", 0)
    result.setdefault("poison_quarantined", 0)
    result["kills"] = kills.get("kills", 0)
    result["acked"] = int(kills.get("acked", 0)) + int(soak.get("soak_acked", 0))  # type: ignore[call-overload]
    result["lost"] = sum(int(x) for x in (kills.get("local_lost", 0), kills.get("central_lost", 0), soak.get("soak_lost", 0)))  # type: ignore[call-overload]
    result["duplicates"] = sum(
        int(x) for x in (kills.get("local_duplicates", 0), kills.get("central_duplicates", 0), soak.get("soak_duplicates", 0))  # type: ignore[call-overload]
    )
    result["fuzzed"] = fuzz.get("fuzzed", 0)
    result["crashes"] = int(fuzz.get("crashes", 0)) + int(soak.get("soak_crashes", 0))  # type: ignore[call-overload]
    result["rss_growth_mb_per_hour"] = soak.get("rss_growth_mb_per_hour")
    result["cpu"] = cpu_reference(reference_start)
    emit(result)


if __name__ == "__main__":
    main()
