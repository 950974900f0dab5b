"""Benchmark: a chain of N simulated shops (default 200) syncing at once with the central side.

Each shop is the gateway's real sync part (bench/_fleet_shop.py) on its own SQLite outbox, filled
beforehand with a realistic mix (sensor events, identify events of consenting customers); while
they drain, the central side publishes consent changes and shops erase customers, which every
other shop must pull. The central side runs as separate processes on one port (SO_REUSEPORT):
SQLite (one worker) and PostgreSQL (a throwaway durable cluster: fsync on) with 1 and 2 workers,
and 2 workers with one SIGKILLed mid-run (and restarted). For each: central_eps, batch_p99_ms,
duplicates, lost, erasure_to_all_sites_p99_s. Last line: one JSON object.

    .venv/bin/python bench/fleet.py [--shops 200] [--events-per-shop 1000] [--runs sqlite:1,postgresql:1,postgresql:2,postgresql:2:kill]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import emit, machine, percentile  # noqa: E402
from _fleet_shop import ShopPlan, ShopReport, shop_process  # noqa: E402

from gateway.model.event import Event  # noqa: E402
from gateway.store.database import connect  # noqa: E402
from gateway.store.ingest_rows import IngestBatch, write_ingest_batch  # noqa: E402
from profile_service.launch import ProfileServiceProcess, service_command  # noqa: E402
from tests.support.mosquitto import free_port  # noqa: E402
from tests.support.postgres import PostgresCluster  # noqa: E402

ADMIN = "fleet-admin"
IDENTIFY_SHARE = 0.1  # one event in ten names a (consenting) customer


def loop_time_s() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "sum(range(10_000_000))"], check=True)
    return round(time.perf_counter() - started, 3)


def fill_shop(path: Path, site: str, count: int, rng: random.Random) -> list[str]:
    db = connect(path)
    now = time.time()
    events: list[Event] = []
    for i in range(count):
        if rng.random() < IDENTIFY_SHARE:
            events.append(Event(received_at=now - count + i, site=site, device=f"nfc/{site}/till-{i % 4}", kind="identify",
                                purpose="service", customer_id=f"card:{site}-{rng.randrange(50):04d}",
                                attributes={"method": "card", "till": i % 4}))
        else:
            events.append(Event(received_at=now - count + i, site=site, device=f"zigbee2mqtt/{site}/motion-{i % 20}",
                                kind="occupancy", purpose="analytics",
                                attributes={"occupancy": i % 2 == 0, "illuminance": i % 1000, "battery": 90,
                                            "voltage": 3.01, "link_quality": 120}))
    write_ingest_batch(db, IngestBatch(outbox=events))
    db.conn.close()
    return [e.id for e in events]


def seed(path: Path, erasable: list[str]) -> Path:
    customers = [{"customer_id": c, "profile": {"tier": "gold"},
                  "consents": [{"purpose": "service", "status": "granted", "changed_at": 1_700_000_000}]} for c in erasable]
    path.write_text(json.dumps({"customers": customers}))
    return path


def admin_put(url: str, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="PUT",
                                     headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def visit(url: str, site: str, token: str, customer: str) -> None:
    """The customer at `site` (one identify event): a shop erases at once only customers it has
    seen (profile_service.authority); the event goes with the customer's erasure."""
    event = {"id": f"visit-{customer}", "received_at": time.time(), "site": site, "device": f"nfc/{site}/till-0",
             "kind": "identify", "purpose": "service", "customer_id": customer}
    request = urllib.request.Request(url + "/v1/events:batch", data=json.dumps({"events": [event]}).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def post_consents(url: str, customers: list[str], per_s: float, stop: threading.Event, done: list[int]) -> None:
    """The chain's CRM changing consents while the shops sync (they reach every shop's puller)."""
    rng = random.Random(7)
    while not stop.wait(1 / per_s):
        customer = rng.choice(customers)
        status = rng.choice(["granted", "denied"])
        try:
            admin_put(url, f"/v1/admin/customers/{customer}/consent",
                      {"purpose": "marketing", "status": status, "changed_at": time.time()})
            done[0] += 1
        except OSError:
            done[1] += 1  # a killed worker's connection: the CRM would retry


def cpu_s(pids: list[int], with_children: bool = False) -> float:
    """User + system CPU seconds used so far by these processes (and their children)."""
    total = 0.0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            group = [process, *(process.children(recursive=True) if with_children else [])]
            for member in group:
                times = member.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def central_rows(database_url: str | None, db_path: Path) -> tuple[set[tuple[str, str]], int]:
    """(site, id) of every stored event, and the number of stored rows."""
    if database_url is None:
        conn = sqlite3.connect(db_path)
        rows = conn.execute("SELECT gateway_site, id FROM events").fetchall()
        conn.close()
    else:
        import asyncpg

        async def fetch() -> list[Any]:
            conn = await asyncpg.connect(database_url)
            try:
                return list(await conn.fetch("SELECT gateway_site, id FROM events"))
            finally:
                await conn.close()

        rows = asyncio.run(fetch())
    return {(r[0], r[1]) for r in rows}, len(rows)


def run_one(args: argparse.Namespace, spec: str, template: Path, work: Path, queued: dict[str, list[str]],
            erasable: list[str], cluster: PostgresCluster | None) -> dict[str, Any]:
    storage, workers_text, *mode = spec.split(":")
    workers, kill = int(workers_text), "kill" in mode
    name = spec.replace(":", "_")
    folder = work / name
    shutil.copytree(template, folder / "shops")
    database_url = cluster.create_database(name) if storage == "postgresql" and cluster else None
    sites = sorted(queued)
    tokens = {site: f"token-{site}" for site in sites}
    port = free_port()
    command = service_command(port, folder / "central.db", tokens, seed(folder / "seed.json", erasable), ADMIN,
                              database_url=database_url, extra=["--reuse-port"] if workers > 1 else [])
    processes = [ProfileServiceProcess(command) for _ in range(workers)]
    try:
        for process in processes:
            process.start(timeout=60)
        return _drive(args, spec, kill, folder, sites, tokens, port, processes, queued, erasable, cluster, database_url)
    finally:
        for process in processes:
            process.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _drive(args: argparse.Namespace, spec: str, kill: bool, folder: Path, sites: list[str], tokens: dict[str, str],
           port: int, processes: list[ProfileServiceProcess], queued: dict[str, list[str]], erasable: list[str],
           cluster: PostgresCluster | None, database_url: str | None) -> dict[str, Any]:
    storage, workers = spec.split(":")[0], len(processes)
    url = f"http://127.0.0.1:{port}"
    rng = random.Random(11)
    erasures: dict[str, list[tuple[float, str]]] = {}
    for k, customer in enumerate(erasable):
        erasures.setdefault(rng.choice(sites), []).append((1.0 + k * args.erasure_every_s, customer))
    plans = [ShopPlan(site, tokens[site], folder / "shops" / f"{site}.db", len(queued[site]), tuple(erasures.get(site, ())))
             for site in sites]
    for site, planned in erasures.items():
        for _, customer in planned:
            visit(url, site, tokens[site], customer)
    start_at = time.time() + 3.0 + len(sites) * 0.01
    deadline = start_at + args.timeout_s
    context = multiprocessing.get_context("spawn")
    pipes, children = [], []
    for index in range(args.shop_processes):
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(daemon=True, target=shop_process, args=(plans[index :: args.shop_processes], url, args.poll_s, start_at,
                                                            set(erasable), deadline, sender))
        child.start()
        pipes.append(receiver)
        children.append(child)
    stop = threading.Event()
    consent_counts = [0, 0]
    poster = threading.Thread(target=post_consents, args=(url, erasable, args.consents_per_s, stop, consent_counts))
    time.sleep(max(0.0, start_at - time.time()))
    server = [cluster.server_pid()] if database_url and cluster else []
    cpu_before = cpu_s(server, with_children=True) + cpu_s([p.proc.pid for p in processes if p.proc])
    poster.start()
    killed_at = None
    if kill:
        time.sleep(args.kill_after_s)
        victim = processes[0]
        assert victim.proc is not None
        cpu_before -= cpu_s([victim.proc.pid])  # its CPU up to the kill still counts (it vanishes with it)
        victim.proc.kill()  # SIGKILL: whatever batch it was writing is cut off
        killed_at = time.time() - start_at
        victim.proc.wait()
        time.sleep(1.0)
        victim.start(timeout=60)  # a replacement worker on the same port
    reports: dict[str, ShopReport] = {}
    for pipe in pipes:
        reports.update(pipe.recv())
    central_cpu = cpu_s(server, with_children=True) + cpu_s([p.proc.pid for p in processes if p.proc]) - cpu_before
    for child in children:
        child.join()
    stop.set()
    poster.join()
    for process in processes:
        process.stop()
    stored, rows = central_rows(database_url, folder / "central.db")
    expected = {(site, i) for site, ids in queued.items() for i in ids}
    drained = [r.drained_at for r in reports.values()]
    finished = max((d for d in drained if d is not None), default=time.time())
    elapsed = finished - start_at
    spreads = []
    for site, report in reports.items():
        for customer, erased_at in report.erasures_queued.items():
            applied = [r.erasures_applied.get(customer) for s, r in reports.items() if s != site]
            spreads.append(max((a - erased_at) if a is not None else float("inf") for a in applied))
    batches = [ms for r in reports.values() for ms in r.batch_ms]
    return {
        "storage": storage, "workers": workers, "worker_killed_at_s": round(killed_at, 2) if killed_at else None,
        "gateways": len(sites), "events": len(expected), "seconds": round(elapsed, 2),
        "central_eps": round(len(expected & stored) / elapsed), "batches": len(batches),
        "batches_not_taken": sum(r.batches_not_taken for r in reports.values()),
        # CPU the central side (workers + PostgreSQL) spent, whatever else ran on the machine:
        # events per CPU-second is what sizing needs.
        "central_cpu_s": round(central_cpu, 1), "central_events_per_cpu_s": round(len(expected & stored) / max(central_cpu, 1e-9)),
        "batch_p50_ms": round(percentile(batches, 50), 1), "batch_p99_ms": round(percentile(batches, 99), 1),
        "duplicates": rows - len(stored), "lost": len(expected - stored), "unexpected": len(stored - expected),
        "shops_not_drained": sum(d is None for d in drained),
        "erasures": len(spreads), "erasure_to_all_sites_p99_s": round(percentile(spreads, 99), 2),
        "consent_changes": consent_counts[0], "consent_changes_failed": consent_counts[1],
        "consents_applied_min": min((r.consents_applied for r in reports.values()), default=0),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shops", type=int, default=200)
    parser.add_argument("--events-per-shop", type=int, default=1000)
    parser.add_argument("--runs", default="sqlite:1,postgresql:1,postgresql:2,postgresql:2:kill")
    parser.add_argument("--shop-processes", type=int, default=2)
    parser.add_argument("--erasures", type=int, default=20)
    parser.add_argument("--erasure-every-s", type=float, default=0.5)
    parser.add_argument("--consents-per-s", type=float, default=10.0)
    parser.add_argument("--poll-s", type=float, default=5.0, help="the shops' changes poll period")
    parser.add_argument("--kill-after-s", type=float, default=4.0)
    parser.add_argument("--timeout-s", type=float, default=300.0)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the cluster and workers on `kill`
    loop_s = loop_time_s()
    load_before = os.getloadavg()
    rng = random.Random(5)
    erasable = [f"card:erasable-{k:03d}" for k in range(args.erasures)]
    with tempfile.TemporaryDirectory(prefix="touchgate-bench-fleet-") as tmp:
        work = Path(tmp)
        template = work / "template"
        template.mkdir()
        queued = {f"shop{n:04d}": fill_shop(template / f"shop{n:04d}.db", f"shop{n:04d}", args.events_per_shop, rng)
                  for n in range(args.shops)}
        specs = args.runs.split(",")
        cluster = PostgresCluster(settings={}) if any(s.startswith("postgresql") for s in specs) else None
        results = []
        try:
            if cluster:
                cluster.start()
            for spec in specs:
                result = run_one(args, spec, template, work, queued, erasable, cluster)
                print(json.dumps(result), flush=True)
                results.append(result)
        finally:
            if cluster:
                cluster.stop()
    emit({"bench": "fleet", "loop_s": loop_s, "loadavg_before": [round(x, 2) for x in load_before],
          "loadavg_after": [round(x, 2) for x in os.getloadavg()], "machine": machine(), "runs": results})


if __name__ == "__main__":
    main()
