"""The TTS service built directly: a fake engine behind the real synthesiser, publishing and the
dead-letter sink as fake ports (tests/tts/test_service.py runs the whole gateway with espeak-ng
and a satellite). What it promises: a say becomes playBytes in the site's format, sayFinished
only after the speaker's playFinished, and a bad request is answered and dead-lettered."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator

from gateway.audio import AudioFormat, Pcm, read_wav
from gateway.hermes.playback import AudioPlayFinished, parse_play_bytes_topic
from gateway.hermes.tts import TTS_ERROR, TTS_SAY_FINISHED, SayOutcome, TtsSay
from gateway.model.deadletter import DeadLetterReason
from gateway.model.inbound import InboundMessage
from gateway.tts.cache import ReplyCache
from gateway.tts.service import TtsService
from gateway.tts.settings import TtsSettings
from gateway.tts.synthesiser import Synthesiser
from gateway.waiting import within

ENGINE_FORMAT = AudioFormat(22050, 2, 1)


class ToneEngine:
    """A TTS engine port: 0.1 s of a constant level per word, in the engine's own format."""

    name = "tone"
    voice_key = "tone-1"

    def __init__(self) -> None:
        self.spoken: list[str] = []

    async def start(self) -> None:
        return None

    async def stream(self, text: str) -> AsyncGenerator[Pcm, None]:
        self.spoken.append(text)
        frames = int(ENGINE_FORMAT.sample_rate * 0.1) * len(text.split())
        yield Pcm(b"\x10\x00" * frames, ENGINE_FORMAT)


class Broker:
    """The publish port, and a queue of what was published."""

    def __init__(self) -> None:
        self.published: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

    def __call__(self, topic: str, payload: bytes, qos: int) -> None:
        self.published.put_nowait((topic, payload))

    async def next(self, topic_prefix: str) -> tuple[str, bytes]:
        while True:
            topic, payload = await within(self.published.get(), 10)
            if topic.startswith(topic_prefix):
                return topic, payload


@contextlib.asynccontextmanager
async def tts_service(broker: Broker, letters: list[tuple[InboundMessage, DeadLetterReason, str]]) -> AsyncIterator[tuple[TtsService, ToneEngine]]:
    settings = TtsSettings(sites={"kiosk": {"sample_rate": 16000}})
    engine = ToneEngine()
    synthesiser = Synthesiser(settings, {"en": engine}, ReplyCache(8, 1_000_000), lambda site: "en")
    service = TtsService(settings, synthesiser, broker, lambda m, r, d: letters.append((m, r, d)))
    task = asyncio.create_task(service.run())
    try:
        yield service, engine
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_say_is_played_in_the_sites_format_and_finished_after_play_finished() -> None:
    broker, letters = Broker(), []
    async with tts_service(broker, letters) as (service, engine):
        done = service.submit(TtsSay(text="two words", siteId="kiosk", id="r1"))
        topic, wav = await broker.next("hermes/audioServer/")
        assert parse_play_bytes_topic(topic) == ("kiosk", "r1")
        pcm = read_wav(wav)
        assert pcm.format == AudioFormat(16000, 2, 1) and abs(pcm.duration_s - 0.2) < 0.01  # resampled for the site
        assert not done.done()  # not finished before the speaker says so
        finished = AudioPlayFinished(id="r1", siteId="kiosk")
        service.on_play_finished(InboundMessage(AudioPlayFinished.topic(siteId="kiosk"), finished.to_json(), 0, 0, time.time()))
        assert await within(done, 10) is SayOutcome.PLAYED
        topic, payload = await broker.next(TTS_SAY_FINISHED)
        assert json.loads(payload)["id"] == "r1"
    assert engine.spoken == ["two words"] and letters == []


async def test_a_bad_request_is_answered_and_dead_lettered() -> None:
    broker, letters = Broker(), []
    async with tts_service(broker, letters) as (service, engine):
        service.on_say(InboundMessage("hermes/tts/say", b'{"text": "", "siteId": "kiosk", "id": "r2"}', 1, 5, time.time()))
        topic, payload = await broker.next(TTS_ERROR)
        assert json.loads(payload)["siteId"] == "kiosk"
    assert [(m.mid, r) for m, r, _ in letters] == [(5, DeadLetterReason.INVALID_HERMES)]
    assert engine.spoken == []
