"""Retained commands against a real Mosquitto: published with the retain flag before the gateway
starts, the broker replays them on every subscribe. Each is refused (dead letter
`retained_command`, acknowledged) at every start, never executed: no consent recorded, no
session started, nothing spoken. The hotword toggles are published by the gateway, never acted on:
a retained toggleOff does not stop a hotword from starting a session. Live commands still run."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from tests.support.clients import Publisher
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto
from tests.tts.satellite import Satellite

CONSENT = "touchgate/shop1/consent"
SAY = "hermes/tts/say"
START = "hermes/dialogueManager/startSession"
TOGGLE_OFF = "hermes/hotword/toggleOff"
TOGGLE_ON = "hermes/hotword/toggleOn"
HOTWORD = "hermes/hotword/default/detected"
SITE = "retained-site"

RETAINED = [
    (CONSENT, json.dumps({"customer_id": "card:04A1B2C3", "purposes": ["marketing"], "status": "granted"})),
    (SAY, json.dumps({"text": "This was said long ago.", "siteId": "stale-site", "id": "stale-say"})),
    (START, json.dumps({"siteId": SITE, "customData": "stale-session"})),
    (TOGGLE_OFF, json.dumps({"siteId": SITE, "reason": "dialogueSession"})),
    (TOGGLE_ON, json.dumps({"siteId": SITE, "reason": "dialogueSession"})),
]


def dead_letters(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT topic, reason FROM dead_letters ORDER BY id").fetchall()


def consents(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM consents").fetchone()[0])


async def test_retained_commands_are_refused_at_every_start_and_live_ones_run(broker: Mosquitto, tmp_path: Path) -> None:
    def publish_retained() -> None:
        with Publisher(broker.host, broker.port, client_id="touchpoint") as pub:
            for topic, payload in RETAINED:
                pub.publish(topic, payload, retain=True).wait_for_publish(10)

    await asyncio.to_thread(publish_retained)
    settings = gateway_settings(broker, tmp_path, tts={"play_finished_timeout_s": 1.0})
    refused = {CONSENT, SAY, START}
    satellite = Satellite(broker.host, broker.port, name="retained-sat")
    try:
        for start in (1, 2):
            async with running_gateway(settings, timeout=60) as runtime:
                await wait_until(
                    lambda: sum(1 for t, r in dead_letters(settings.store.path) if r == "retained_command") == 3 * start, timeout=20
                )
                # Live: a hotword on the site starts a session (the retained toggleOff did nothing),
                # and a say published now is spoken.
                await asyncio.to_thread(
                    satellite.publisher.publish(HOTWORD, json.dumps({"siteId": SITE, "modelId": "default"})).wait_for_publish, 5
                )
                voice = runtime.service("voice")
                await wait_until(lambda: voice.sessions.at(SITE) is not None, timeout=20)
                satellite.say(text="Fresh news.", siteId="speaker-site", id=f"live-{start}")
                await satellite.wait_for(lambda: len(satellite.play_bytes("speaker-site")) == start, timeout=30)
    finally:
        satellite.close()
    letters = dead_letters(settings.store.path)
    assert sorted(t for t, r in letters if r == "retained_command") == sorted([*refused, *refused])
    assert {t for t, _ in letters} <= refused  # the toggles never reached a handler
    assert consents(settings.store.path) == 0
    # Nothing was ever spoken for the retained say: only the live ones reached the speaker.
    assert not satellite.play_bytes("stale-site")
