"""Every sample payload of every device profile, through a real Mosquitto, becomes the right event."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import sqlite_utils
import yaml

from gateway.config.settings import PROJECT_ROOT
from gateway.devices.identifiers import is_anonymous
from tests.support.clients import Publisher
from tests.support.gateway import running_gateway, gateway_settings, wait_until
from tests.support.mosquitto import Mosquitto

OWN_BEACON = {"name": "entrance beacon", "uuid": "e2c56db5-dffb-48d2-b060-d0f5a71096e0", "major": 100, "minor": 7}
SAMPLES = sorted((PROJECT_ROOT / "device_profiles" / "samples").glob("*.yaml"))


def load_samples() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for path in SAMPLES:
        for sample in yaml.safe_load(path.read_text()):
            sample["profile"] = path.stem
            out.append(sample)
    return out


def test_every_profile_has_samples() -> None:
    profiles = {p.stem for p in (PROJECT_ROOT / "device_profiles").glob("*.yaml")}
    assert profiles == {p.stem for p in SAMPLES}
    assert len(profiles) >= 7


async def test_samples_become_events(broker: Mosquitto, tmp_path: Path) -> None:
    samples = load_samples()
    # The samples' own iBeacon is on the allow-list; every other advertiser is anonymised.
    settings = gateway_settings(broker, tmp_path, ingest={"own_beacons": [OWN_BEACON]})
    async with running_gateway(settings) as runtime:
        with Publisher(broker.host, broker.port) as pub:
            await asyncio.to_thread(pub.publish_all, [(s["topic"], s["payload"]) for s in samples])
        await wait_until(lambda: runtime.ingest.counters.stored + runtime.ingest.counters.dead_letters >= len(samples))
    db = sqlite_utils.Database(settings.store.path)
    rows = list(db.query("SELECT * FROM events ORDER BY id"))
    assert db["dead_letters"].count == 0, list(db["dead_letters"].rows)
    assert len(rows) == len(samples)
    for sample, row in zip(samples, rows, strict=True):
        expect = dict(sample["expect"])  # type: ignore[arg-type]
        assert row["profile"] == sample["profile"]
        attributes = json.loads(row["attributes"])
        if expect.pop("anonymised", False):
            # A stranger's device: its MAC replaced by the day's anonymous id, in topic and payload.
            assert row["topic"] == str(sample["topic"]).rsplit("/", 1)[0] + "/anonymous"
            assert is_anonymous(attributes["mac"]) and expect["attributes"]["mac"] == "anon:"  # type: ignore[index]
            attributes["mac"] = "anon:"
        else:
            assert row["topic"] == sample["topic"]
        assert attributes == expect.pop("attributes")
        expect.setdefault("site", "shop1")
        # Identify events are personal; without consent the strict gate keeps them anonymised.
        expect.pop("customer_id", None)
        for key, value in expect.items():
            assert row[key] == value, (key, row)
