"""The satellite host's paths that wyoming-satellite 1.0 in its default mode does not take: a
pipeline that starts at `asr` (the satellite heard its own wake word), `played`, ping/pong,
`pause-satellite` when the gateway stops, a satellite that vanishes mid-turn or talks nonsense
(the session ends, the link is dialled again with backoff).

The satellite end is written with the `wyoming` package (its reader and writer), listening as a
satellite does; the gateway dials it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import PauseSatellite, RunSatellite
from wyoming.snd import Played
from wyoming.tts import Synthesize

from gateway.app import Gateway
from gateway.config.settings import Settings
from tests.support.gateway import gateway_settings, running_gateway, wait_until
from tests.support.mosquitto import Mosquitto
from tests.voice.support import Utterance, silence, utterances

SITE = "wyo1"
EVENT_TIMEOUT_S = 60  # generous for a loaded machine; a wrong event fails at once


class SatelliteEnd:
    """A listening Wyoming satellite: records what the gateway sends, sends what a test says."""

    def __init__(self) -> None:
        self.connections = 0
        self.received: asyncio.Queue[Event | None] = asyncio.Queue()  # None: the gateway hung up
        self.answer_pings = True
        self._writer: asyncio.StreamWriter | None = None
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._writer is not None:
            self._writer.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writer = writer
        while (event := await async_read_event(reader)) is not None:
            if Ping.is_type(event.type) and self.answer_pings:
                await self.send(Pong(text=event.data.get("text")).event())
            await self.received.put(event)
        await self.received.put(None)

    async def send(self, event: Event) -> None:
        assert self._writer is not None
        await async_write_event(event, self._writer)

    async def send_raw(self, raw: bytes) -> None:
        assert self._writer is not None
        self._writer.write(raw)
        await self._writer.drain()

    def vanish(self) -> None:
        """Gone without a goodbye, as when the speaker loses power (RST, not FIN)."""
        assert self._writer is not None
        self._writer.transport.abort()

    async def next(self, *types: str) -> Event | None:
        """The next event of one of `types` (pings and the like skipped), or None at hang-up.
        One deadline for it all: the gateway's pings must not keep a wait alive."""
        async with asyncio.timeout(EVENT_TIMEOUT_S):
            while True:
                event = await self.received.get()
                if event is None or event.type in types:
                    return event


@pytest.fixture
async def satellite_end() -> AsyncIterator[SatelliteEnd]:
    end = SatelliteEnd()
    await end.start()
    try:
        yield end
    finally:
        await end.stop()


def _settings(broker: Mosquitto, tmp_path: Path, end: SatelliteEnd, **overrides: object) -> Settings:
    return gateway_settings(
        broker, tmp_path, **overrides,
        wyoming={
            "enabled": True, "satellites": [{"uri": f"tcp://127.0.0.1:{end.port}", "site_id": SITE}],
            "ping_s": 1.0, "reconnect_initial_s": 0.2, "reconnect_max_s": 1.0,
        },
    )


def _coffee() -> Utterance:
    return next(u for u in utterances("en") if u.name == "en_where_coffee")


async def _stream(end: SatelliteEnd, pcm: bytes) -> None:
    step = 2048
    for start in range(0, len(pcm), step):
        await end.send(AudioChunk(rate=16000, width=2, channels=1, audio=pcm[start : start + step]).event())


async def _connected(runtime: Gateway, end: SatelliteEnd) -> None:
    assert await end.next(RunSatellite().event().type) is not None
    await asyncio.wait_for(runtime.service("wyoming").links[SITE].connected.wait(), EVENT_TIMEOUT_S)


async def test_a_pipeline_starting_at_asr_is_a_session_answered_with_transcript_and_reply(
    broker: Mosquitto, tmp_path: Path, satellite_end: SatelliteEnd
) -> None:
    end = satellite_end
    async with running_gateway(_settings(broker, tmp_path, end), timeout=60) as runtime:
        assert runtime.service("voice") is not None
        await _connected(runtime, end)
        await end.send(RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS, wake_word_name="ok_nabu").event())
        await wait_until(lambda: runtime.service("voice").sessions.at(SITE) is not None, timeout=EVENT_TIMEOUT_S)
        await end.send(AudioStart(rate=16000, width=2, channels=1).event())
        await _stream(end, silence(0.3) + _coffee().pcm() + silence(1.5))
        transcript = await end.next("transcript")
        assert transcript is not None and Transcript.from_event(transcript).text == "where is the coffee"
        synthesize = await end.next("synthesize")
        assert synthesize is not None and Synthesize.from_event(synthesize).text.startswith("You will find coffee in aisle")
        assert await end.next("audio-start") is not None
        chunks = 0
        while (event := await end.next("audio-chunk", "audio-stop")) is not None and event.type == "audio-chunk":
            chunks += 1
        assert event is not None and AudioStop.is_type(event.type) and chunks > 0
        await end.send(Played().event())
        # played ends the turn: the session is over (its reply was played, not timed out).
        await wait_until(lambda: runtime.service("voice").sessions.at(SITE) is None, timeout=EVENT_TIMEOUT_S)
        link = runtime.service("wyoming").links[SITE]
        assert link.stats.first_reply_chunk and not link.stats.errors_sent
        # The satellite may ping the gateway too.
        await end.send(Ping(text="are you there").event())
        pong = await end.next("pong")
        assert pong is not None and pong.data.get("text") == "are you there"
        # ...and the gateway pings it (answered by SatelliteEnd).
        assert await end.next("ping") is not None
    # On stop the gateway pauses the satellite before it hangs up.
    assert await end.next(PauseSatellite().event().type) is not None


async def test_a_request_asked_back_still_gets_its_transcript_before_the_question(
    broker: Mosquitto, tmp_path: Path, satellite_end: SatelliteEnd
) -> None:
    """An effectful request below the effect guard's threshold is asked back, not acted on; the
    satellite still gets the turn's `transcript` first, as with any other turn (it waited for it
    forever before). The threshold is set out of reach so that "delete my data", however sure
    the recogniser is of it this time, is asked back: the turn's order is under test, not the
    recogniser's margin."""
    end = satellite_end
    erase = next(u for u in utterances("en") if u.name == "en_forget_2")
    settings = _settings(broker, tmp_path, end, voice={"guard": {"effectful_min_confidence": 1.0}})
    async with running_gateway(settings, timeout=60) as runtime:
        await _connected(runtime, end)
        await end.send(RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS).event())
        await wait_until(lambda: runtime.service("voice").sessions.at(SITE) is not None, timeout=EVENT_TIMEOUT_S)
        await end.send(AudioStart(rate=16000, width=2, channels=1).event())
        await _stream(end, silence(0.3) + erase.pcm() + silence(1.5))
        first = await end.next("transcript", "synthesize")
        assert first is not None and Transcript.is_type(first.type), first
        assert Transcript.from_event(first).text == "delete my data"
        question = await end.next("synthesize")
        assert question is not None and "yes or no" in Synthesize.from_event(question).text


async def test_a_satellite_that_vanishes_mid_turn_ends_its_session_and_is_dialled_again(
    broker: Mosquitto, tmp_path: Path, satellite_end: SatelliteEnd
) -> None:
    end = satellite_end
    async with running_gateway(_settings(broker, tmp_path, end), timeout=60) as runtime:
        assert runtime.service("voice") is not None
        await _connected(runtime, end)
        await end.send(RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS).event())
        await wait_until(lambda: runtime.service("voice").sessions.at(SITE) is not None, timeout=EVENT_TIMEOUT_S)
        first = runtime.service("voice").sessions.at(SITE)
        assert first is not None
        await _stream(end, _coffee().pcm()[:16000])  # half a request, still speaking
        end.vanish()
        assert await end.next() is None  # the first connection is over
        await wait_until(lambda: runtime.service("voice").sessions.at(SITE) is None, timeout=EVENT_TIMEOUT_S)
        # Dialled again (backoff 0.2 s), run-satellite sent anew, and a new turn works.
        await wait_until(lambda: end.connections == 2, timeout=EVENT_TIMEOUT_S)
        await _connected(runtime, end)
        await end.send(RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS).event())
        await wait_until(lambda: runtime.service("voice").sessions.at(SITE) is not None, timeout=EVENT_TIMEOUT_S)
        new = runtime.service("voice").sessions.at(SITE)
        assert new is not None and new.session_id != first.session_id


@pytest.mark.parametrize("sends_played", [True, False], ids=["sends-played", "never-sends-played"])
async def test_a_satellite_that_vanishes_while_the_reply_plays_ends_the_session(
    broker: Mosquitto, tmp_path: Path, satellite_end: SatelliteEnd, sends_played: bool
) -> None:
    end = satellite_end
    # A session timeout far beyond the wait below: only the lost link can end the session in time.
    settings = _settings(broker, tmp_path, end, voice={"session_timeout_s": 600})
    async with running_gateway(settings, timeout=60) as runtime:
        assert runtime.service("voice") is not None
        await _connected(runtime, end)
        if sends_played:  # the gateway waits for `played` from a satellite that has sent one
            await end.send(Played().event())
        await end.send(RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS).event())
        await wait_until(lambda: runtime.service("voice").sessions.at(SITE) is not None, timeout=EVENT_TIMEOUT_S)
        await _stream(end, silence(0.3) + _coffee().pcm() + silence(1.5))
        assert await end.next("audio-stop") is not None  # the reply was sent; it "plays" now
        end.vanish()
        await wait_until(lambda: runtime.service("voice").sessions.at(SITE) is None, timeout=EVENT_TIMEOUT_S)


async def test_nonsense_from_a_satellite_gets_an_error_and_the_link_is_dialled_again(
    broker: Mosquitto, tmp_path: Path, satellite_end: SatelliteEnd
) -> None:
    end = satellite_end
    async with running_gateway(_settings(broker, tmp_path, end), timeout=60) as runtime:
        await _connected(runtime, end)
        link = runtime.service("wyoming").links[SITE]
        await end.send(Event(type="make-coffee", data={}))
        error = await end.next("error")
        assert error is not None and "unknown event type 'make-coffee'" in error.data["text"]
        await end.send(Event(type="run-pipeline", data={"start_stage": "intent", "end_stage": "tts"}))
        error = await end.next("error")
        assert error is not None and "start at wake or asr" in error.data["text"]
        await end.send_raw(b'{"type": "audio-chunk", "payload_length": 99999999}\n')
        error = await end.next("error")
        assert error is not None and "payload_length 99999999 exceeds" in error.data["text"]
        assert await end.next() is None  # framing broken: the gateway hung up...
        await wait_until(lambda: end.connections == 2, timeout=EVENT_TIMEOUT_S)  # ...and dials again
        await _connected(runtime, end)
        assert link.stats.connects == 2


async def test_a_satellite_that_stops_answering_pings_is_dropped_and_dialled_again(
    broker: Mosquitto, tmp_path: Path, satellite_end: SatelliteEnd
) -> None:
    end = satellite_end
    async with running_gateway(_settings(broker, tmp_path, end), timeout=60) as runtime:
        await _connected(runtime, end)
        assert await end.next("ping") is not None  # answered: the gateway now expects pongs
        end.answer_pings = False
        assert await end.next() is None  # no pong within ping_s: the gateway hangs up
        end.answer_pings = True
        await wait_until(lambda: end.connections == 2, timeout=EVENT_TIMEOUT_S)
        await _connected(runtime, end)
