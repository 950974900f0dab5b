"""The voice service built directly: the real skills and intent matcher, a store file, and as
fake ports the speaker (what the TTS part offers), publishing, and a recogniser that is never
asked (these flows need none). The whole-gateway dialogue tests with real recognisers stay.
What it promises: a notification is spoken through the speaker port and then ends its session;
a busy site queues the next; NLU as a service answers a query with its intent."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gateway.hermes.dialogue import DialogueEndSession, DialogueStartSession, SessionInitNotification
from gateway.hermes.nlu import NluQuery
from gateway.hermes.tts import SayOutcome, TtsSay
from gateway.model.gate import NoConsents
from gateway.store import Store
from gateway.voice.identity import IdentityBindings
from gateway.voice.language import LanguageKit
from gateway.voice.outbound import HermesOut
from gateway.voice.privacy import StorePrivacy
from gateway.voice.profiles import Profiles
from gateway.voice.service import VoiceService
from gateway.voice.settings import VoiceSettings
from gateway.voice.skillrunner import SkillRunner
from gateway.voice.skillset import build_intent_model
from gateway.waiting import within


class Speaker:
    """The speaker port: records each reply and holds it until the test lets it finish."""

    def __init__(self) -> None:
        self.said: asyncio.Queue[TtsSay] = asyncio.Queue()
        self.stopped: asyncio.Queue[TtsSay] = asyncio.Queue()  # replies whose wait was cancelled
        self.release = asyncio.Event()

    async def speak(self, say: TtsSay) -> SayOutcome:
        self.said.put_nowait(say)
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.stopped.put_nowait(say)
            raise
        return SayOutcome.PLAYED


class NoRecogniser:
    name = "none"
    unknown_words: set[str] = set()

    def recogniser(self) -> object:
        raise AssertionError("these flows never recognise speech")


class Published:
    def __init__(self) -> None:
        self.messages: asyncio.Queue[tuple[str, dict[str, object]]] = asyncio.Queue()

    def __call__(self, topic: str, payload: bytes) -> None:
        self.messages.put_nowait((topic, json.loads(payload)))

    async def next(self, topic: str) -> dict[str, object]:
        while True:
            seen, body = await within(self.messages.get(), 10)
            if seen == topic:
                return body


@contextlib.asynccontextmanager
async def voice_service(tmp_path: Path, speaker: Speaker, published: Published) -> AsyncIterator[VoiceService]:
    settings = VoiceSettings()
    model, shop = build_intent_model(settings, "en")
    store = await Store.open(tmp_path / "voice.db")
    skills = SkillRunner(model.handlers, shop, StorePrivacy(store), Profiles(store, NoConsents()))
    kits = {"en": LanguageKit("en", NoRecogniser(), model.matcher, skills, False)}  # type: ignore[arg-type]
    pool = ThreadPoolExecutor(max_workers=1)
    service = VoiceService(settings, kits, IdentityBindings(60, time.time), HermesOut(published), published, pool, speaker)
    task = asyncio.create_task(service.run())
    await asyncio.sleep(0)  # one step: run() opens its task group before its first await
    try:
        yield service
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        pool.shutdown()
        await store.close()


async def test_a_notification_is_spoken_through_the_speaker_port_and_a_busy_site_queues(tmp_path: Path) -> None:
    speaker, published = Speaker(), Published()
    async with voice_service(tmp_path, speaker, published) as service:
        service.start_session(DialogueStartSession(siteId="desk", init=SessionInitNotification(text="Welcome")))
        started = await published.next("hermes/dialogueManager/sessionStarted")
        first = await within(speaker.said.get(), 10)
        assert (first.text, first.siteId, first.sessionId) == ("Welcome", "desk", started["sessionId"])
        service.start_session(DialogueStartSession(siteId="desk", init=SessionInitNotification(text="Closing soon")))
        queued = await published.next("hermes/dialogueManager/sessionQueued")
        speaker.release.set()  # the first reply has been played
        ended = await published.next("hermes/dialogueManager/sessionEnded")
        assert ended["sessionId"] == started["sessionId"] and ended["termination"] == {"reason": "nominal", "error": None}
        second = await within(speaker.said.get(), 10)
        assert (second.text, second.sessionId) == ("Closing soon", queued["sessionId"])


async def test_nlu_as_a_service_answers_a_query(tmp_path: Path) -> None:
    speaker, published = Speaker(), Published()
    async with voice_service(tmp_path, speaker, published) as service:
        service.nlu_query(NluQuery(input="where can I find the bread", id="q1", siteId="x"))
        while True:
            topic, body = await within(published.messages.get(), 10)
            if topic.startswith("hermes/intent/"):
                break
        assert topic == "hermes/intent/WhereIsProduct" and body["id"] == "q1"
        assert speaker.said.empty()


async def test_a_session_that_ends_while_its_reply_is_spoken_stops_the_reply(tmp_path: Path) -> None:
    """The speaker's wait is cancelled: that is how the TTS part and a Wyoming link learn to stop
    synthesising the rest of the reply (tests/tts/test_streaming.py)."""
    speaker, published = Speaker(), Published()
    async with voice_service(tmp_path, speaker, published) as service:
        service.start_session(DialogueStartSession(siteId="desk", init=SessionInitNotification(text="A long announcement")))
        started = await published.next("hermes/dialogueManager/sessionStarted")
        said = await within(speaker.said.get(), 10)
        service.end_session(DialogueEndSession(sessionId=str(started["sessionId"])))  # e.g. the skill's own dialogue manager
        stopped = await within(speaker.stopped.get(), 10)
        assert stopped.id == said.id
        ended = await published.next("hermes/dialogueManager/sessionEnded")
        assert ended["sessionId"] == started["sessionId"]
