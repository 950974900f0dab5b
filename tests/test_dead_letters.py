"""Each kind of bad input lands in dead letters with its reason; the message is still acknowledged
and the gateway keeps working."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlite_utils

from tests.support.clients import Publisher
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto

GOOD = ("zigbee2mqtt/shop1/entrance-motion", '{"occupancy":true,"battery":90}')

BAD: list[tuple[str, bytes, str]] = [
    ("zigbee2mqtt/shop1/entrance-motion", b'{"occupancy": tru', "invalid_json"),
    ("zigbee2mqtt/shop1/entrance-motion", b'{"occupancy": true, "battery": NaN}', "invalid_json"),
    ("zigbee2mqtt/shop1/entrance-motion", b"[" * 100_000, "invalid_json"),
    ("zigbee2mqtt/shop1/entrance-motion", b'{"occupancy": "yes"}', "wrong_type"),
    ("zigbee2mqtt/shop1/entrance-motion", b'{"occupancy": true, "battery": 140}', "out_of_range"),
    ("zigbee2mqtt/shop1/entrance-motion", b'{"battery": 50}', "no_profile_match"),
    ("zigbee2mqtt/shop1/entrance-motion", b'"just a string"', "no_profile_match"),
    ("tele/shop1_coolroom/SENSOR", b'{"AM2301":{"Humidity":40}}', "missing_field"),
    ("shellies/shellydw2-1/sensor/state", b"ajar", "out_of_range"),
    ("zigbee2mqtt/shop1/entrance-motion", b'{"occupancy": true, "x": "\xff\xfe"}', "invalid_utf8"),
    ("zigbee2mqtt/shop1/entrance-motion", b'{"occupancy": true, "pad": "' + b"a" * 300_000 + b'"}', "too_large"),
    ("tele/cardreader_kiosk1/SENSOR", b'{"PN532":{"UID":""}}', "missing_field"),
]


async def test_each_bad_input_is_dead_lettered_with_reason(broker: Mosquitto, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path)
    async with running_gateway(settings) as runtime:
        with Publisher(broker.host, broker.port) as pub:
            messages = [(topic, payload) for topic, payload, _ in BAD] + [GOOD]
            await asyncio.to_thread(pub.publish_all, messages)
        await wait_until(lambda: runtime.ingest.counters.dead_letters + runtime.ingest.counters.stored >= len(BAD) + 1)
    db = sqlite_utils.Database(settings.store.path)
    rows = list(db.query("SELECT topic, reason, detail, raw, raw_size FROM dead_letters ORDER BY id"))
    assert [r["reason"] for r in rows] == [reason for _, _, reason in BAD]
    for row, (topic, payload, _) in zip(rows, BAD, strict=True):
        assert row["topic"] == topic
        assert row["raw_size"] == len(payload)
        assert row["raw"] == payload[: settings.store.dead_letter_raw_cap]
        assert row["detail"]
    # The good message after all the bad ones was stored: nothing stopped the gateway.
    assert db["events"].count == 1


async def test_unknown_topic_under_a_subscription_is_dead_lettered(broker: Mosquitto, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path)
    async with running_gateway(settings) as runtime:
        with Publisher(broker.host, broker.port) as pub:
            # Matches the subscription tele/+/SENSOR but no profile's pattern (no "_" in the level).
            await asyncio.to_thread(pub.publish_all, [("tele/lonely/SENSOR", b'{"AM2301":{}}')])
        await wait_until(lambda: runtime.ingest.counters.dead_letters >= 1)
    db = sqlite_utils.Database(settings.store.path)
    assert [r["reason"] for r in db["dead_letters"].rows] == ["unknown_topic"]
