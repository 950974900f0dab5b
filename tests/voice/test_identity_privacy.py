"""Two customers, one speaker, against the real gateway and Mosquitto: a card tap binds ONE voice
session; the next person at the speaker hears nothing of the last one and cannot erase them;
"forget me" erases only after a clear "yes, delete" from the same customer in the same session.
Loyalty points and personalised offers need the personalisation consent; transcripts never
reach the outbox."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlite_utils

from gateway.app import Gateway as Runtime
from gateway.consent.model import ConsentRecord, ConsentSource, ConsentStatus
from gateway.voice.service import VoiceService
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto
from tests.voice.support import HermesClient, frames, utterances

BY_NAME = {u.name: u for u in utterances("en")}
ANNA, BERT = "card:94D8FC5F", "card:04A1B2C3"


class Speaker:
    """One satellite's conversation: sessions, utterances, the replies spoken for each."""

    def __init__(self, client: HermesClient, site: str) -> None:
        self.client, self.site = client, site
        self._turn_from = 0  # messages before this index belong to earlier turns

    async def start(self) -> str:
        self._turn_from = len(self.client.messages)
        return await asyncio.to_thread(self.client.start_session, self.site)

    async def say(self, session: str, name: str) -> str:
        """Speak an utterance in the session once the gateway listens (after its last reply has
        played; frames sent before are dropped, as from a real satellite); the reply spoken next."""
        listening = "hermes/asr/startListening"
        await asyncio.to_thread(self.client.json_on, listening, 15.0, self._turn_from, sessionId=session)
        before = len(self.client.messages)
        await asyncio.to_thread(self.client.stream, self.site, frames(BY_NAME[name].pcm()))
        say = await asyncio.to_thread(self.client.json_on, "hermes/tts/say", 15.0, before, sessionId=session)
        self._turn_from = before  # the next turn's startListening comes after this turn's audio
        return str(say["text"])

    async def ask(self, name: str) -> str:
        """A new session (a new person at the speaker), one question, its reply; returns once
        the session has ended (a tap after it is for the next session)."""
        session = await self.start()
        reply = await self.say(session, name)
        await self.ended(session)
        return reply

    async def ended(self, session: str) -> dict[str, object]:
        return await asyncio.to_thread(self.client.json_on, "hermes/dialogueManager/sessionEnded", 15.0, sessionId=session)

    async def tap(self, card: str) -> None:
        payload = {"Time": "2026-11-28T10:02:44", "PN532": {"UID": card.removeprefix("card:"), "DATA": ""}}
        await asyncio.to_thread(self.client.send, f"tele/cardreader_{self.site}/SENSOR", payload)


def _voice(runtime: Runtime) -> VoiceService:
    voice = runtime.service("voice")
    assert isinstance(voice, VoiceService)
    return voice


async def _seed(runtime: Runtime) -> None:
    consents = runtime.service("consent")
    assert consents is not None
    now = time.time()
    records = [
        ConsentRecord(customer_id=c, purpose=p, status=ConsentStatus.GRANTED, changed_at=now, source=ConsentSource.CENTRAL)
        for c in (ANNA, BERT)
        for p in ("service", "personalisation")
    ]
    await consents.apply_records(records)
    profiles = {ANNA: {"loyalty_points": 1250, "favourite_category": "coffee", "tier": "gold"}, BERT: {"loyalty_points": 7}}
    await runtime.store.call(
        lambda db: db["profiles"].insert_all(
            [{"customer_id": c, "attributes": json.dumps(p), "updated_at": now} for c, p in profiles.items()]
        )
    )


@pytest.fixture
async def shop(broker: Mosquitto, tmp_path: Path) -> AsyncIterator[tuple[Runtime, HermesClient]]:
    settings = gateway_settings(broker, tmp_path, voice={"session_timeout_s": 4})
    client = HermesClient(broker.host, broker.port)
    try:
        async with running_gateway(settings, timeout=30) as runtime:
            await _seed(runtime)
            yield runtime, client
    finally:
        client.close()


def _profiles(runtime: Runtime) -> set[str]:
    db = sqlite_utils.Database(runtime.settings.store.path)
    try:
        return {r[0] for r in db.execute("SELECT customer_id FROM profiles")}
    finally:
        db.close()


async def test_a_tap_binds_one_session_and_the_next_person_hears_nothing(shop: tuple[Runtime, HermesClient]) -> None:
    runtime, client = shop
    till = Speaker(client, "kiosk1")
    assert "tap your loyalty card" in await till.ask("en_points_1")
    assert (await till.ask("en_offers_1")).startswith("Today's offers")

    # Anna taps at a quiet speaker: her tap waits for the next session there, and only that one.
    await till.tap(ANNA)
    await wait_until(lambda: _voice(runtime).identity.waiting_at("kiosk1") == ANNA)
    assert await till.ask("en_points_1") == "You have 1250 loyalty points."
    # Why 1: a minute later someone else says the wake word and asks the same: nothing of Anna.
    assert "tap your loyalty card" in await till.ask("en_know_1")
    assert "tap your loyalty card" in await till.ask("en_points_1")

    # A tap during a running session binds that session; her questions in it are answered.
    session = await till.start()
    await till.tap(ANNA)
    await wait_until(lambda: _voice(runtime).identity.customer_of("kiosk1") == ANNA)
    known = await till.say(session, "en_know_1")
    assert "loyalty points" in known and "personalisation granted" in known
    await till.ended(session)
    assert _voice(runtime).identity.customer_of("kiosk1") is None
    assert _voice(runtime).identity.waiting_at("kiosk1") is None

    # Another site is never bound by Anna's tap; Bert's tap there binds Bert only.
    other = Speaker(client, "kiosk2")
    await till.tap(ANNA)
    await wait_until(lambda: _voice(runtime).identity.waiting_at("kiosk1") == ANNA)
    assert "tap your loyalty card" in await other.ask("en_points_1")
    await other.tap(BERT)
    await wait_until(lambda: _voice(runtime).identity.waiting_at("kiosk2") == BERT)
    assert await other.ask("en_points_1") == "You have 7 loyalty points."


async def test_forget_me_needs_a_clear_yes_from_the_same_customer_in_the_same_session(shop: tuple[Runtime, HermesClient]) -> None:
    runtime, client = shop
    till = Speaker(client, "kiosk1")

    # Why 2: "delete my data", then anything but "yes, delete" cancels; nothing is erased.
    await till.tap(ANNA)
    await wait_until(lambda: _voice(runtime).identity.waiting_at("kiosk1") == ANNA)
    session = await till.start()
    before = len(client.messages)
    question = await till.say(session, "en_forget_2")
    assert question == "This erases everything we keep about you, including your 1,250 points. Say 'yes, delete' to confirm."
    # The question is a continueSession listening for the yes only.
    await asyncio.to_thread(client.json_on, "hermes/asr/startListening", 10.0, before, sessionId=session, intentFilter=["ConfirmErase"])
    assert await till.say(session, "en_hours_1") == "All right, I have not changed anything."
    await till.ended(session)
    assert ANNA in _profiles(runtime)

    # The question, then silence until the session times out: cancelled.
    await till.tap(ANNA)
    await wait_until(lambda: _voice(runtime).identity.waiting_at("kiosk1") == ANNA)
    session = await till.start()
    assert (await till.say(session, "en_forget_2")).startswith("This erases everything")
    ended = await till.ended(session)
    assert ended["termination"]["reason"] == "timeout"  # type: ignore[index]
    assert ANNA in _profiles(runtime)

    # The question to Anna; a new wake word (the next person) says "yes, delete": not Anna's yes.
    await till.tap(ANNA)
    await wait_until(lambda: _voice(runtime).identity.waiting_at("kiosk1") == ANNA)
    session = await till.start()
    assert (await till.say(session, "en_forget_2")).startswith("This erases everything")
    barged = await till.start()
    assert barged != session
    assert await till.say(barged, "en_yes_delete") == "There is nothing to confirm."
    await till.ended(barged)
    assert ANNA in _profiles(runtime)

    # The question to Anna; Bert taps in between and says yes: cancelled.
    await till.tap(ANNA)
    await wait_until(lambda: _voice(runtime).identity.waiting_at("kiosk1") == ANNA)
    session = await till.start()
    assert (await till.say(session, "en_forget_2")).startswith("This erases everything")
    await till.tap(BERT)
    await wait_until(lambda: _voice(runtime).identity.customer_of("kiosk1") == BERT)
    assert await till.say(session, "en_yes_delete") == "All right, I have not changed anything."
    await till.ended(session)
    assert {ANNA, BERT} <= _profiles(runtime)

    # The question, and a clear yes from Anna in her session: erased, and Bert is untouched.
    await till.tap(ANNA)
    await wait_until(lambda: _voice(runtime).identity.waiting_at("kiosk1") == ANNA)
    session = await till.start()
    assert (await till.say(session, "en_forget_2")).startswith("This erases everything")
    assert (await till.say(session, "en_yes_delete")).startswith("Done. I have erased everything")
    await till.ended(session)  # the reply played: nothing of this session is still being spoken at shutdown
    assert ANNA not in _profiles(runtime) and BERT in _profiles(runtime)
    assert _voice(runtime).identity.customer_of("kiosk1") is None

    db = sqlite_utils.Database(runtime.settings.store.path)
    outbox = " ".join(row["body"] for row in db["outbox"].rows)
    db.close()
    for phrase in ("points", "offers", "forget", "delete", "know about"):
        assert phrase not in outbox  # transcripts never leave


async def test_forget_me_without_a_tap_asks_for_the_card_and_erases_nobody(shop: tuple[Runtime, HermesClient]) -> None:
    runtime, client = shop
    till = Speaker(client, "kiosk1")
    assert "tap your loyalty card" in await till.ask("en_forget_2")
    assert await till.ask("en_yes_delete") == "There is nothing to confirm."
    assert {ANNA, BERT} <= _profiles(runtime)
