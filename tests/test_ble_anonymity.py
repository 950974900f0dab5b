"""Phones are not tracked by MAC (issue 14, case 7; issue 19, anonymous presence).

Whatever spelling a customer's MAC arrives in (case, `:`/`-`/no separators, in the topic and the
payload), and whatever shape the message has (good, wrong types, cut off, not text), the MAC never
reaches the store in clear: not the events, the outbox, the dead letters, the quarantine's tables,
the audit log, nor a log line. Only the shop's own beacons (ingest.own_beacons) keep theirs, and
only they are synced; the phones are counted by analytics through their anonymous ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from gateway.config.problems import ConfigError
from gateway.config.settings import PROJECT_ROOT, load_settings
from gateway.devices.identifiers import DailyAnonymiser, DeviceIdentifiers, OwnBeacon, is_anonymous, spelling_pattern
from gateway.devices.normalise import Normaliser
from gateway.devices.registry import load_profiles
from gateway.ingest import Ingest
from gateway.logs import JsonLineFormatter
from gateway.model.gate import NoConsents, StrictGate
from gateway.model.inbound import InboundMessage
from gateway.store import Store
from tests.rules.support import write_rules
from tests.support.clients import Publisher
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto

OWN_MAC = "C0:FF:EE:00:00:01"
PROFILES, _ = load_profiles(PROJECT_ROOT / "device_profiles")


def spell(mac: bytes, upper: bool, separator: str) -> str:
    text = separator.join(f"{b:02x}" for b in mac)
    return text.upper() if upper else text


def found_in_files(folder: Path, mac: str) -> list[str]:
    """Files (the database, its WAL) whose bytes hold the MAC in any spelling."""
    pattern = spelling_pattern(mac)
    assert pattern is not None
    return [p.name for p in folder.iterdir() if p.is_file() and pattern.search(p.read_bytes())]


@contextlib.contextmanager
def captured_log() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


def shapes(mac_in_payload: str, rssi: int) -> dict[str, bytes]:
    good = {"id": mac_in_payload, "rssi": rssi, "brand": "Apple"}
    return {
        "good": json.dumps(good).encode(),
        "wrong_type": json.dumps({**good, "rssi": "near"}).encode(),
        "out_of_range": json.dumps({**good, "rssi": 99}).encode(),
        "cut_off": json.dumps(good).encode()[:-7],
        "not_text": json.dumps(good).encode()[:-1] + b"\xff}",
        "no_rssi": json.dumps({"id": mac_in_payload}).encode(),
    }


async def _ingest_one(folder: Path, message: InboundMessage) -> list[object]:
    store = await Store.open(folder / "touchgate.db")
    normaliser = Normaliser(PROFILES, "shop1", 65536, 4096, identifiers=DeviceIdentifiers(PROFILES, [OwnBeacon(mac=OWN_MAC)], DailyAnonymiser()))
    ingest = Ingest(store, normaliser, StrictGate(NoConsents()), lambda m: None, batch_max=10)
    committed: list[object] = []
    ingest.on_committed.append(committed.extend)
    task = asyncio.create_task(ingest.run())
    try:
        ingest.submit(normaliser.admit(message))  # as the gateway's sensor route does (gateway/app.py)
        while ingest.counters.stored + ingest.counters.dead_letters + ingest.counters.dropped < 1:
            await asyncio.sleep(0.005)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()
    return committed


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    mac=st.binary(min_size=6, max_size=6),
    payload_spelling=st.tuples(st.booleans(), st.sampled_from(["", ":", "-"])),
    topic_spelling=st.tuples(st.booleans(), st.sampled_from(["", ":", "-"])),
    shape=st.sampled_from(["good", "wrong_type", "out_of_range", "cut_off", "not_text", "no_rssi"]),
    rssi=st.integers(-100, -30),
)
def test_no_spelling_of_a_phones_mac_is_kept_anywhere(
    tmp_path_factory: object, mac: bytes, payload_spelling: tuple[bool, str], topic_spelling: tuple[bool, str], shape: str, rssi: int
) -> None:
    folder: Path = tmp_path_factory.mktemp("ble")  # type: ignore[attr-defined]
    in_payload, in_topic = spell(mac, *payload_spelling), spell(mac, *topic_spelling)
    message = InboundMessage(f"home/ble-coffee/BTtoMQTT/{in_topic}", shapes(in_payload, rssi)[shape], 1, 7, 1_764_324_164.0)
    with captured_log() as log:
        committed = asyncio.run(_ingest_one(folder, message))
    assert found_in_files(folder, in_payload) == [], (shape, in_payload)
    assert spelling_pattern(in_payload).search(log.getvalue().encode()) is None  # type: ignore[union-attr]
    assert all(in_payload.lower().replace(":", "").replace("-", "") not in repr(e).lower().replace(":", "").replace("-", "") for e in committed)
    conn = sqlite3.connect(folder / "touchgate.db")
    try:
        assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0  # a phone's sighting never leaves
        events = conn.execute("SELECT device, purpose, attributes FROM events").fetchall()
    finally:
        conn.close()
    if shape == "good":
        assert [(d, p) for d, p, _ in events] == [("anonymous", "on_site")]
        assert is_anonymous(json.loads(events[0][2])["mac"])


def test_own_beacons_are_validated_with_file_line_and_field(tmp_path: Path) -> None:
    config = tmp_path / "touchgate.yaml"
    config.write_text(
        "ingest:\n  own_beacons:\n    - {name: door, mac: 'C0:FF:EE:00:00:01'}\n"
        "    - {name: shelf, uuid: e2c56db5-dffb-48d2-b060-d0f5a71096e0}\n    - {mac: 'C0:FF:EE'}\n"
    )
    try:
        load_settings(config)
    except ConfigError as exc:
        problems = [(p.line, p.field) for p in exc.problems]
        assert problems == [(4, "ingest.own_beacons[1]"), (5, "ingest.own_beacons[2].mac")], problems
        assert "a uuid alone matches phones too" in str(exc)
    else:
        raise AssertionError("a uuid without major and minor, and a 3-byte MAC, were accepted")


RULES = """
zones:
  coffee_shelf: ["ble-coffee"]
rules: []
"""


async def test_phones_through_the_real_gateway_stay_anonymous_and_own_beacons_sync(broker: Mosquitto, tmp_path: Path) -> None:
    write_rules(tmp_path / "rules", RULES)
    settings = gateway_settings(
        broker, tmp_path, rules={"dir": tmp_path / "rules", "timezone": "UTC"}, tts={"enabled": False},
        ingest={"own_beacons": [{"name": "staff", "mac": OWN_MAC}]},
    )
    phones = ["5D:2A:91:0C:44:E1", "7a-11-03-bc-9d-20"]
    messages: list[tuple[str, str | bytes]] = []
    for mac in phones:
        plain = mac.replace(":", "").replace("-", "")
        for topic_device, payload_id in ((plain.upper(), mac), (plain.lower(), mac.upper()), (mac, plain)):
            messages.append((f"home/ble-coffee/BTtoMQTT/{topic_device}", json.dumps({"id": payload_id, "rssi": -60})))
        messages.append((f"home/ble-coffee/BTtoMQTT/{plain}", json.dumps({"id": mac, "rssi": "x"})))  # dead letter
        messages.append((f"home/ble-coffee/BTtoMQTT/{plain}", b'{"id":"' + mac.encode() + b'","rssi":-6'))  # cut off
    messages.append(("home/ble-coffee/BTtoMQTT/C0FFEE000001", json.dumps({"id": OWN_MAC, "rssi": -50})))
    with captured_log() as log:
        async with running_gateway(settings) as runtime:
            with Publisher(broker.host, broker.port) as pub:
                await asyncio.to_thread(pub.publish_all, messages)
            counters = runtime.ingest.counters
            await wait_until(lambda: counters.stored + counters.dead_letters >= len(messages))
            analytics = runtime.service("analytics")
            await wait_until(lambda: analytics.core.counts.by_kind.get("beacon", 0) >= 7)
            # Analytics counts the phones through their anonymous ids: one stay per phone, whatever
            # the spelling; the staff beacon is the shop's own and is not a person.
            assert len(analytics.core.zones["coffee_shelf"].stays) == len(phones)
            assert analytics.core.counts.own_beacons == 1
    for mac in phones:
        assert found_in_files(tmp_path, mac) == [], mac
        assert spelling_pattern(mac).search(log.getvalue().encode()) is None  # type: ignore[union-attr]
    conn = sqlite3.connect(settings.store.path)
    try:
        synced = [json.loads(body) for (body,) in conn.execute("SELECT body FROM outbox")]
        devices = sorted(d for (d,) in conn.execute("SELECT device FROM devices"))
        letters = conn.execute("SELECT topic, raw_state FROM dead_letters").fetchall()
        audit = conn.execute("SELECT count(*) FROM audit").fetchone()[0]
    finally:
        conn.close()
    assert [(b["device"], b["attributes"]["mac"]) for b in synced] == [("C0FFEE000001", OWN_MAC)]
    assert devices == ["C0FFEE000001", "anonymous"]
    assert len(letters) == 2 * len(phones) and all(t == "home/ble-coffee/BTtoMQTT/anonymous" for t, _ in letters)
    assert audit >= 1  # the consent part audited (gate counts, start); no MAC in it (files scanned above)
