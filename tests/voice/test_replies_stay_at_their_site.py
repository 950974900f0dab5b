"""Issue 14, "every speaker hears every reply", played with real Mosquitto accounts and the ACL
deploy/broker.sh writes: Anna taps her card at the kiosk1 speaker and asks for her points; the
speaker of kiosk2, logged in with its own account and subscribed to everything it may see,
never receives her reply (text or audio), and what it publishes for kiosk1 is refused. A kiosk
account erases only at its own site."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from gateway.app import Gateway
from gateway.config.settings import Settings
from tests.deploy.support import Account, shop_broker
from tests.support.clients import Collector, Publisher
from tests.support.gateway import running_gateway, wait_until
from tests.voice.support import HermesClient, frames
from tests.voice.test_identity_privacy import ANNA, BY_NAME, _seed, _voice

GATEWAY = Account("gateway", "touchgate", "gw-secret")
SPEAKER_A = Account("speaker", "speaker_kiosk1", "a-secret", "kiosk1")
SPEAKER_B = Account("speaker", "speaker_kiosk2", "b-secret", "kiosk2")
KIOSK_B = Account("kiosk", "button_kiosk2", "k-secret", "kiosk2")


def login(account: Account) -> tuple[str, str]:
    return account.name, account.password


@dataclass
class Shop:
    port: int
    runtime: Gateway
    watcher: Collector  # the gateway's own account: sees every message (the positive control)


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    with shop_broker(tmp_path / "broker", [GATEWAY, SPEAKER_A, SPEAKER_B, KIOSK_B]) as port:
        settings = Settings(
            site_id="kiosk1",
            mqtt={"host": "127.0.0.1", "port": port, "client_id": "touchgate-acl", "username": GATEWAY.name,
                  "password": GATEWAY.password},
            store={"path": tmp_path / "touchgate.db"},
            voice={"session_timeout_s": 4},
        )
        watcher = Collector("127.0.0.1", port, ["#"], client_id="watcher", login=login(GATEWAY))
        try:
            async with running_gateway(settings, timeout=30) as runtime:
                await _seed(runtime)
                yield Shop(port, runtime, watcher)
        finally:
            watcher.close()


def _payloads(collector: Collector) -> list[tuple[str, bytes]]:
    return [(m.topic, m.payload) for m in list(collector.messages)]


async def test_speaker_b_never_hears_site_a_and_cannot_speak_for_it(shop: Shop) -> None:
    # Each speaker under its own account; B listens to everything the broker lets it see.
    speaker_a = HermesClient("127.0.0.1", shop.port, client_id="speaker-a", login=login(SPEAKER_A))
    speaker_b = Collector("127.0.0.1", shop.port, ["#"], client_id="speaker-b", login=login(SPEAKER_B))
    try:
        with Publisher("127.0.0.1", shop.port, client_id="card-reader", login=login(GATEWAY)) as reader:
            tap = {"Time": "2026-11-28T10:02:44", "PN532": {"UID": ANNA.removeprefix("card:"), "DATA": ""}}
            reader.publish_all([("tele/cardreader_kiosk1/SENSOR", json.dumps(tap))])
        await wait_until(lambda: _voice(shop.runtime).identity.waiting_at("kiosk1") == ANNA)

        # Speaker A, as a satellite does it: the wake word, then the question's audio.
        before = len(speaker_a.messages)
        await asyncio.to_thread(speaker_a.send, "hermes/hotword/hey_touchgate/detected", {"siteId": "kiosk1", "modelId": "hey_touchgate"})
        listening = await asyncio.to_thread(speaker_a.json_on, "hermes/asr/startListening", 15.0, before, siteId="kiosk1")
        session = listening["sessionId"]
        await asyncio.to_thread(speaker_a.stream, "kiosk1", frames(BY_NAME["en_points_1"].pcm()))

        # Her personal reply was spoken (the gateway's own account sees the text) ...
        say = await asyncio.to_thread(shop.watcher.wait_for, lambda m: m.topic == "hermes/tts/say" and b"1250" in m.payload, 20.0)
        assert json.loads(say[0].payload)["siteId"] == "kiosk1"
        # ... to speaker A, as audio on its own site's topic, which it played back ...
        audio = await asyncio.to_thread(speaker_a.wait_for, lambda m: paho.topic_matches_sub("hermes/audioServer/kiosk1/playBytes/+", m.topic), 20.0)
        assert audio[0].payload.startswith(b"RIFF")
        # ... and the session ended: the gateway's next message to every speaker, the wake word
        # back on at kiosk1, comes after the reply in the gateway's order (Mosquitto keeps one
        # client's order), so once B has it, B would have had the reply too.
        await asyncio.to_thread(speaker_b.wait_for, lambda m: m.topic == "hermes/hotword/toggleOn" and b'"kiosk1"' in m.payload, 20.0)
        heard_by_b = _payloads(speaker_b)
        assert not [t for t, _ in heard_by_b if t.startswith("hermes/audioServer/kiosk1/") or t == "hermes/tts/say"], heard_by_b
        assert not [t for t, p in heard_by_b if b"1250" in p or b"loyalty" in p], heard_by_b
        assert not [m for m in speaker_a.messages if m.topic == "hermes/tts/say"]  # A gets audio, not the shared text topic
        assert session  # the session A's audio went to

        # B speaking for kiosk1 (its audio, its playback reports, a session, a reply) is refused;
        # its own site's message, sent last, arrives.
        forbidden = [
            ("hermes/audioServer/kiosk1/audioFrame", b"RIFF"),
            ("hermes/audioServer/kiosk1/playFinished", json.dumps({"id": "x", "siteId": "kiosk1"}).encode()),
            ("hermes/dialogueManager/startSession", json.dumps({"siteId": "kiosk1"}).encode()),
            ("hermes/tts/say", json.dumps({"text": "hello", "siteId": "kiosk1"}).encode()),
            ("touchgate/kiosk1/erasure", json.dumps({"customer_id": ANNA}).encode()),
        ]
        marker = ("hermes/audioServer/kiosk2/playFinished", json.dumps({"id": "marker", "siteId": "kiosk2"}).encode())
        with Publisher("127.0.0.1", shop.port, client_id="speaker-b-pub", login=login(SPEAKER_B)) as forger:
            forger.publish_all([*forbidden, marker])
        await asyncio.to_thread(shop.watcher.wait_for, lambda m: m.topic == marker[0] and b"marker" in m.payload)
        arrived = {(t, p) for t, p in _payloads(shop.watcher)}
        assert not set(forbidden) & arrived
    finally:
        speaker_a.close()
        speaker_b.close()


async def test_a_kiosk_erases_only_at_its_own_site(shop: Shop) -> None:
    """The kiosk account of kiosk2 may publish consent and erasure for kiosk2 only; the broker
    drops its erasure for kiosk1 (and the gateway, whose site is kiosk1, would refuse kiosk2's:
    it is neither its site nor a listed touchpoint, tests/consent/test_integrity.py)."""
    theirs = ("touchgate/kiosk1/erasure", json.dumps({"customer_id": ANNA}))
    own = ("touchgate/kiosk2/consent", json.dumps({"customer_id": ANNA, "purposes": ["marketing"], "status": "revoked"}))
    with Publisher("127.0.0.1", shop.port, client_id="kiosk-b", login=login(KIOSK_B)) as kiosk:
        kiosk.publish_all([theirs, own])
    await asyncio.to_thread(shop.watcher.wait_for, lambda m: m.topic == own[0])
    assert [m.topic for m in shop.watcher.messages if m.topic.endswith("/erasure")] == []
    consents = shop.runtime.service("consent")
    assert consents is not None and consents.ledger.was_erased(ANNA) is None
