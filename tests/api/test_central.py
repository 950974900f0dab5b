"""The central link as the operator sees it, with the real reference profile service: the status,
the sync counters in /metrics, the last sync in Home Assistant's health document, and a lost link."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path

from profile_service.launch import ProfileServiceProcess, service_command
from tests.api.conftest import ApiHarness, sample_messages, started_api
from tests.support.clients import Collector
from tests.support.gateway import wait_until
from tests.support.mosquitto import Mosquitto, free_port

SITE_TOKEN = "token-shop1-for-api-tests"


def sync_section(url: str) -> dict[str, object]:
    return {
        "url": url, "token": SITE_TOKEN, "linger_s": 0.05, "request_timeout_s": 2.0, "backoff_initial_s": 0.05,
        "backoff_max_s": 0.4, "poll_interval_s": 0.2, "limits_interval_s": 0.2,
    }


def central_event_kinds(db_path: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return {kind: int(n) for kind, n in conn.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind")}
    finally:
        conn.close()


async def metric(api: ApiHarness, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    async with api.http.get(api.url + "/metrics") as response:
        text = await response.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    raise AssertionError(f"{name}{labels} not in /metrics")


async def test_sync_status_counters_and_a_lost_link(broker: Mosquitto, tmp_path: Path) -> None:
    command = service_command(free_port(), tmp_path / "central.db", {"shop1": SITE_TOKEN})
    watcher = Collector(broker.host, broker.port, ["touchgate/shop1/health"], client_id="central-watch")
    with ProfileServiceProcess(command) as central, contextlib.closing(watcher):
        assert central.url is not None
        sections = {"sync": sync_section(central.url)}
        async with started_api(broker, tmp_path, sections=sections, homeassistant={"interval_s": 1}) as api:
            messages = sample_messages()
            await api.publish(messages)
            await wait_until(lambda: api.db_scalar("SELECT count(*) FROM outbox") == 0, timeout=15)
            status = await api.get_json("/api/status")
            central_status = status["central"]
            sent = api.db_scalar("SELECT value FROM state WHERE key = 'sync.count.sent'")
            assert central_status["configured"] is True and central_status["last_error"] == ""
            assert central_status["last_success_at"] is not None
            assert central_status["counts"]["sent"] == int(sent) > 0
            assert status["outbox"]["depth"] == 0
            assert await metric(api, "touchgate_sync_results_total", result="sent") == int(sent)
            # Events out per kind: what the central service holds from us, kind by kind.
            central_kinds = central_event_kinds(tmp_path / "central.db")
            assert central_kinds and sum(central_kinds.values()) == int(sent)
            for kind, count in central_kinds.items():
                assert await metric(api, "touchgate_events_out_total", kind=kind) == count, kind
            assert await metric(api, "touchgate_last_sync_success_timestamp_seconds") == central_status["last_success_at"]

            def has_last_sync(m: object) -> bool:
                return json.loads(m.payload)["last_sync"] is not None  # type: ignore[attr-defined]

            health = await asyncio.to_thread(watcher.wait_for, has_last_sync, 10)
            assert json.loads(health[-1].payload)["last_sync"].startswith("20")

            central.stop()  # the link goes down: new events wait, the sender backs off
            await api.publish(messages[:3])
            sync_parts = api.runtime.service("sync").running  # the Gateway's declared field, set by the sync part
            assert sync_parts is not None
            await wait_until(lambda: bool(sync_parts.sender.status.last_error), timeout=15)
            down = (await api.get_json("/api/status"))["central"]
            assert down["state"] in ("backoff", "sending") and down["last_error"]
            assert (await api.get_json("/api/status"))["outbox"]["depth"] == api.db_scalar("SELECT count(*) FROM outbox") > 0
