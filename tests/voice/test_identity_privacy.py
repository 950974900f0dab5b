"""A card tap binds the site's voice sessions to the customer; loyalty points and personalised
offers need the personalisation consent; "what do you know about me" and "forget me" go through
the consent part (export and erasure). Transcripts never reach the outbox."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import sqlite_utils

from gateway.consent.model import ConsentRecord, ConsentSource, ConsentStatus
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto
from tests.voice.support import HermesClient, frames, utterances

BY_NAME = {u.name: u for u in utterances("en")}
CARD, OTHER = "94D8FC5F", "04A1B2C3"


async def _ask(client: HermesClient, site: str, name: str) -> str:
    session = await asyncio.to_thread(client.start_session, site)
    await asyncio.to_thread(client.stream, site, frames(BY_NAME[name].pcm()))
    say = await asyncio.to_thread(client.json_on, "hermes/tts/say", 10.0, sessionId=session)
    return str(say["text"])


def _tap(client: HermesClient, site: str, card: str) -> None:
    client.send(f"tele/cardreader_{site}/SENSOR", {"Time": "2026-11-28T10:02:44", "PN532": {"UID": card, "DATA": ""}})


async def test_card_tap_binds_customer_for_points_offers_and_privacy(broker: Mosquitto, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path)
    client = HermesClient(broker.host, broker.port)
    try:
        async with running_gateway(settings, timeout=30) as runtime:
            assert runtime.service("consent") is not None
            now = time.time()
            await runtime.service("consent").apply_records(
                [
                    ConsentRecord(customer_id=f"card:{CARD}", purpose=p, status=ConsentStatus.GRANTED, changed_at=now, source=ConsentSource.CENTRAL)
                    for p in ("service", "personalisation")
                ]
                + [ConsentRecord(customer_id=f"card:{OTHER}", purpose="service", status=ConsentStatus.GRANTED, changed_at=now, source=ConsentSource.CENTRAL)]
            )
            profile = {"loyalty_points": 120, "favourite_category": "coffee", "tier": "gold"}
            await runtime.store.call(
                lambda db: db["profiles"].insert_all(
                    [
                        {"customer_id": f"card:{CARD}", "attributes": json.dumps(profile), "updated_at": now},
                        {"customer_id": f"card:{OTHER}", "attributes": json.dumps({"loyalty_points": 7}), "updated_at": now},
                    ]
                )
            )
            # Not identified yet.
            assert "tap your loyalty card" in await _ask(client, "kiosk1", "en_points_1")
            generic = await _ask(client, "kiosk1", "en_offers_1")
            assert generic.startswith("Today's offers")

            await asyncio.to_thread(_tap, client, "kiosk1", CARD)
            await wait_until(lambda: runtime.service("voice") is not None and runtime.service("voice").identity.customer_at("kiosk1") == f"card:{CARD}")
            assert await _ask(client, "kiosk1", "en_points_1") == "You have 120 loyalty points."
            assert "coffee" in await _ask(client, "kiosk1", "en_offers_1")
            known = await _ask(client, "kiosk1", "en_know_1")
            assert "loyalty points" in known and "personalisation granted" in known
            # Another site is not bound to this customer.
            assert "tap your loyalty card" in await _ask(client, "kiosk2", "en_points_1")

            # A customer without the personalisation consent gets no points read out.
            await asyncio.to_thread(_tap, client, "kiosk2", OTHER)
            await wait_until(lambda: runtime.service("voice") is not None and runtime.service("voice").identity.customer_at("kiosk2") == f"card:{OTHER}")
            assert "allow personalisation" in await _ask(client, "kiosk2", "en_points_1")

            forgotten = await _ask(client, "kiosk1", "en_forget_1")
            assert forgotten.startswith("Done. I have erased everything")
            assert runtime.service("voice").identity.customer_at("kiosk1") is None
        db = sqlite_utils.Database(settings.store.path)
        assert db.execute("SELECT count(*) FROM profiles WHERE customer_id = ?", [f"card:{CARD}"]).fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM profiles WHERE customer_id = ?", [f"card:{OTHER}"]).fetchone()[0] == 1
        outbox = " ".join(row["body"] for row in db["outbox"].rows)
        for phrase in ("points", "offers", "forget", "know about"):
            assert phrase not in outbox  # transcripts never leave
    finally:
        client.close()
