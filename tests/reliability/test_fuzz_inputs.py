"""Hostile input through a real broker to the real gateway: every message is accounted for, the
gateway stays up and its memory stays bounded.

Short versions of `bench/reliability.py`'s 100k-message fuzz: a few hundred hypothesis examples
plus a seeded corpus of mutated real samples, per run.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

from gateway.hermes.tts import TTS_SAY
from tests.consent.support import consent_inbox
from tests.reliability.support import assert_alive, integrity, publish_fuzz, rss_mb, scalar, settled
from tests.support.clients import Publisher
from tests.support.fuzz import FuzzCorpus, FuzzMessage, Surface, audio_frame, draw_examples, fuzz_message
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto

CANARY = ("zigbee2mqtt/shop1/canary-motion", json.dumps({"occupancy": True, "battery": 88}))


async def test_sensor_fuzz_every_message_is_stored_or_dead_lettered(broker: Mosquitto, tmp_path: Path) -> None:
    surfaces = frozenset({Surface.SENSOR})
    messages: list[FuzzMessage] = draw_examples(fuzz_message((Surface.SENSOR,)), 300)
    messages += list(FuzzCorpus(seed=11, surfaces=surfaces).messages(1500))
    settings = gateway_settings(broker, tmp_path)
    db = settings.store.path
    async with running_gateway(settings) as runtime:
        sent = await asyncio.to_thread(publish_fuzz, broker.host, broker.port, messages, "fuzz-sensors")
        await settled(runtime, sent)
        assert_alive(runtime)
        c = runtime.ingest.counters
        assert c.received == sent
        # messages in = events stored + dead letters (+ personal events the gate's policy drops)
        assert c.stored + c.dropped + c.dead_letters == sent, c
        assert c.submitted_dead_letters == 0 and c.redeliveries_skipped == 0
        assert c.stored > 100 and c.dead_letters > 500, c  # the corpus really is a mix
        # The same figures in the file (rules may add events of their own: profile 'rules').
        assert scalar(db, "SELECT COUNT(*) FROM events WHERE profile != 'rules'") == c.stored
        assert scalar(db, "SELECT COUNT(*) FROM dead_letters") == c.dead_letters
        reasons = Counter(str(r) for (r,) in _rows(db, "SELECT reason FROM dead_letters"))
        for reason in ("invalid_json", "invalid_utf8", "wrong_type", "too_large"):
            assert reasons[reason] > 0, reasons
        before = c.stored
        with Publisher(broker.host, broker.port, client_id="canary") as pub:
            await asyncio.to_thread(pub.publish_all, [CANARY])
        await wait_until(lambda: c.stored == before + 1)
    assert integrity(db) == "ok"


async def test_every_surface_fuzzed_stays_up_reconciles_and_memory_is_bounded(broker: Mosquitto, tmp_path: Path) -> None:
    """Sensors, consent and erasure events, Hermes JSON (TTS, and the voice part's dialogue, ASR,
    NLU and hotword messages) and binary audio, all at once, in two
    rounds: the second round (after warm-up) must not grow the process by more than a few MB."""
    settings = gateway_settings(broker, tmp_path)
    db = settings.store.path
    rounds = [
        draw_examples(fuzz_message(), 250) + draw_examples(audio_frame(), 30) + list(FuzzCorpus(seed=21).messages(1200)),
        list(FuzzCorpus(seed=22).messages(1500)),
    ]
    rss: list[float] = []
    async with running_gateway(settings) as runtime:
        consents = runtime.service("consent")
        reasons: Counter[str] = Counter()
        runtime.ingest.on_dead_letters.append(lambda letters: reasons.update(d.reason.value for d in letters))
        assert consents is not None and consent_inbox(runtime) is not None
        sent: Counter[str] = Counter()
        for index, messages in enumerate(rounds):
            per_kind = Counter(_kind(m) for m in messages)
            n = await asyncio.to_thread(publish_fuzz, broker.host, broker.port, messages, f"fuzz-all-{index}")
            assert n == len(messages)
            sent.update(per_kind)
            await settled(runtime, sent["sensor"])
            inbox = consent_inbox(runtime)
            await wait_until(lambda: inbox.handled + inbox.rejected == sent["consent"], timeout=60)
            await settled(runtime, sent["sensor"])
            assert_alive(runtime)
            rss.append(rss_mb())
        c = runtime.ingest.counters
        assert c.received == sent["sensor"]
        assert c.in_flight() == 0, c
        assert inbox.rejected > 0 and inbox.handled > 0
        # The gateway still does its job; once the canary (sent last) is in, all before it is settled.
        before = c.stored
        with Publisher(broker.host, broker.port, client_id="canary") as pub:
            await asyncio.to_thread(pub.publish_all, [CANARY])
        await wait_until(lambda: c.stored == before + 1)
        await settled(runtime, sent["sensor"] + 1)
        assert_alive(runtime)
        # Every rejected consent/erasure and Hermes message became a dead letter, through ingest.
        assert c.submitted_dead_letters > inbox.rejected, "no Hermes dead letters: did the TTS part see the fuzz?"
        # (Counted as committed: erasures in the fuzz legitimately delete dead letters naming the customer.)
        # The inbox's own: its refusals, and stale decisions (handled, applied where they could be,
        # and the rest dead-lettered `stale_consent`: not counted as refused).
        from_inbox = inbox.rejected + reasons["stale_consent"]
        assert reasons["invalid_hermes"] + reasons["invalid_audio"] == c.submitted_dead_letters - from_inbox, reasons
        # No part raised on any of it (a raise is caught at the MQTT boundary as handler_failed).
        assert reasons["handler_failed"] == 0, reasons
        assert scalar(db, "SELECT COUNT(*) FROM dead_letters") <= c.dead_letters  # erasures remove some
    assert integrity(db) == "ok"
    assert rss[1] - rss[0] < 40, f"RSS grew {rss[1] - rss[0]:.1f} MB in the second round ({rss})"


def _kind(message: FuzzMessage) -> str:
    if message.surface is Surface.TTS:
        return "say" if message.topic == TTS_SAY else "play_finished"
    return message.surface.value


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def test_a_part_that_raises_costs_only_its_own_message(broker: Mosquitto, tmp_path: Path) -> None:
    """The MQTT boundary: an exception out of a handler used to leave paho mid-packet (the
    connection then broke for every later message). Now that input is dead-lettered."""
    settings = gateway_settings(broker, tmp_path)
    db = settings.store.path

    def broken_handler(message: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    async with running_gateway(settings) as runtime:
        runtime.mqtt.route("reliability/broken/#", broken_handler)
        await asyncio.sleep(0.2)  # the subscription is sent at once while connected
        c = runtime.ingest.counters
        with Publisher(broker.host, broker.port, client_id="breaker") as pub:
            await asyncio.to_thread(pub.publish_all, [("reliability/broken/1", b"[[["), ("reliability/broken/2", b"x"), CANARY])
        await wait_until(lambda: c.stored == 1 and c.dead_letters == 2)
        assert_alive(runtime)
    rows = _rows(db, "SELECT topic, reason, detail FROM dead_letters ORDER BY id")
    assert [(t, r) for t, r, _ in rows] == [("reliability/broken/1", "handler_failed"), ("reliability/broken/2", "handler_failed")]
    assert "RecursionError" in str(rows[0][2])


async def test_non_finite_consent_times_are_dead_lettered_not_fatal(broker: Mosquitto, tmp_path: Path) -> None:
    """Found by the 100k fuzz: `"at": NaN` from a known customer reached SQLite as NULL, and the
    IntegrityError stopped the whole gateway."""
    settings = gateway_settings(broker, tmp_path)
    tap = ("tele/cardreader_kiosk1/SENSOR", '{"Time":"2026-11-28T10:02:44","PN532":{"UID":"94D8FC5F","DATA":""}}')
    bad = [
        ("touchgate/kiosk1/consent", f'{{"customer_id": "card:94D8FC5F", "purposes": ["service"], "status": "granted", "at": {v}}}')
        for v in ("NaN", "Infinity", "-Infinity")
    ] + [("touchgate/shop1/erasure", '{"customer_id": "card:94D8FC5F", "at": NaN}')]  # shop1: the gateway's own site
    async with running_gateway(settings) as runtime:
        c = runtime.ingest.counters
        with Publisher(broker.host, broker.port, client_id="nan-consent") as pub:
            await asyncio.to_thread(pub.publish_all, [tap, *bad, CANARY])
        await wait_until(lambda: c.stored >= 2 and c.submitted_dead_letters >= len(bad) and c.in_flight() == 0)
        assert_alive(runtime)
    reasons = [r for (r,) in _rows(settings.store.path, "SELECT reason FROM dead_letters")]
    assert reasons == ["invalid_consent"] * len(bad)
