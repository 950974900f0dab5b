"""`touchgate status`: from the live API, and from the database file alone."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from pathlib import Path

import yaml

from gateway.cli import main
from tests.api.conftest import TOKEN, ApiHarness, sample_messages, started_api
from tests.support.mosquitto import Mosquitto


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def write_config(api: ApiHarness, path: Path, api_enabled: bool = True) -> Path:
    settings = api.runtime.settings
    path.write_text(
        yaml.safe_dump(
            {
                "site_id": settings.site_id,
                "mqtt": {"host": settings.mqtt.host, "port": settings.mqtt.port},
                "store": {"path": str(settings.store.path)},
                "api": {"enabled": api_enabled, "port": settings.api.port, "token": TOKEN},
            }
        )
    )
    return path


async def test_status_from_the_api_matches_the_api(api: ApiHarness, tmp_path: Path) -> None:
    await api.publish(sample_messages() + [("milesight/shop1/24E124716C123456/uplink", "nope")])
    api.runtime.metrics.voice_turn(0.6, 0.03, text="opening hours", intent="OpeningHours", site="kiosk1")
    config = write_config(api, tmp_path / "touchgate.yaml")
    code, out, err = await asyncio.to_thread(run_cli, ["status", "--config", str(config), "--json"])
    assert code == 0, err
    from_cli = json.loads(out)
    from_api = await api.get_json("/api/status")
    for key in ("events", "outbox", "dead_letters", "devices_seen", "broker", "site"):
        expected = from_api[key]
        if key == "outbox":
            expected = {**expected, "oldest_age_s": from_cli[key]["oldest_age_s"]}  # it ages between the calls
        assert from_cli[key] == expected, key

    code, text, _ = await asyncio.to_thread(run_cli, ["status", "--config", str(config)])
    assert code == 0
    assert "live from the gateway" in text
    assert f"{from_api['events']['total']} stored" in text
    assert f"  outbox        {from_api['outbox']['depth']} events" in text
    assert "1 total" in text and "invalid_json: 1" in text
    assert "opening hours" in text and "OpeningHours" in text
    assert "24E124716C123456" in text


async def test_status_without_a_token_is_refused_and_falls_back_to_the_database(api: ApiHarness, tmp_path: Path) -> None:
    await api.publish(sample_messages())
    config = write_config(api, tmp_path / "touchgate.yaml")
    wrong = tmp_path / "wrong.token"
    wrong.write_text("wrong-token-wrong-token\n")
    code, text, err = await asyncio.to_thread(run_cli, ["status", "--config", str(config), "--token-file", str(wrong)])
    assert code == 0
    assert "answered 401" in err and "reading the database instead" in err
    assert "from the database only" in text and f"{len(sample_messages())} stored" in text
    assert "broker        unknown" in text


async def test_status_from_the_database_after_the_gateway_stopped(broker: Mosquitto, tmp_path: Path) -> None:
    async with started_api(broker, tmp_path) as api:
        await api.publish(sample_messages())
        config = write_config(api, tmp_path / "touchgate.yaml", api_enabled=False)
        devices = len((await api.get_json("/api/devices"))["items"])
    code, out, err = await asyncio.to_thread(run_cli, ["status", "--config", str(config), "--json"])
    assert code == 0, err
    report = json.loads(out)
    assert report["source"] == "database" and report["broker"]["connected"] is None
    assert report["events"]["total"] == len(sample_messages()) and report["devices_seen"] == devices

    code, _, err = await asyncio.to_thread(run_cli, ["status", "--config", str(config), "--db", str(tmp_path / "none.db")])
    assert code == 1 and "no database at" in err
    assert not (tmp_path / "none.db").exists(), "status must never create a database"
