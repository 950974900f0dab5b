"""The satellite host: the gateway dials each configured Wyoming satellite, sends `run-satellite`,
and runs its `run-pipeline` as sessions of the voice service – the same dialogue core, endpointing,
recognition, skills, rules, identity and consent as a Hermes speaker. Only the transport differs:
audio arrives as `audio-chunk` events (the voice part's SITE_AUDIO port), the transcript goes back
as `transcript`, and replies are streamed as `audio-start/chunk/stop` (`speak`: the part routes the
link's site to it with `SiteAudio.speak_through`).

A pipeline starting at `asr` (the satellite heard its wake word) opens a session at once; one
starting at `wake` (wyoming-satellite's always-streaming default) feeds the stream to the gateway's
own wake stage until the phrase is heard, and again after each session. Pings keep the link honest;
a lost link is dialled again with backoff, and its session (if any) is ended so nothing waits on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Executor
from contextlib import aclosing
from dataclasses import dataclass, field

from wyoming.asr import Transcript as WyTranscript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import PauseSatellite, RunSatellite
from wyoming.snd import Played
from wyoming.tts import Synthesize
from wyoming.wake import Detection

from gateway.audio import AudioFormat, AudioFormatError, read_wav
from gateway.backoff import Backoff
from gateway.hermes.tts import SayOutcome, TtsSay
from gateway.ports import SiteAudio, SpeechFailed, Synthesise
from gateway.wyoming.audio import chunk_events, chunk_to_recogniser
from gateway.wyoming.framing import Limits, ProtocolError, read_event, stream_limit, write_event
from gateway.wyoming.settings import SatelliteSettings, WyomingSettings
from gateway.wyoming.wake import WakeModel, WakeSpotter
from gateway.waiting import within

log = logging.getLogger(__name__)

WAKE_MODEL = "touchgate"


@dataclass
class LinkStats:
    """What tests and benchmarks read: turns, first reply audio, errors sent to the satellite."""

    connects: int = 0
    wakes: int = 0
    errors_sent: list[str] = field(default_factory=list)
    last_speech_end: float = 0.0  # perf_counter of the chunk that ended the last utterance
    first_reply_chunk: list[float] = field(default_factory=list)  # speech end → first reply chunk, seconds


class _Closed(Exception):
    """The connection went away."""


class SatelliteLink:
    def __init__(
        self, settings: SatelliteSettings, wyoming: WyomingSettings, voice: SiteAudio,
        synthesiser: Synthesise, wake: WakeModel, pool: Executor,
    ) -> None:
        self.settings = settings
        self.site_id = settings.site_id
        self._wyoming = wyoming
        self._voice = voice
        self._synth = synthesiser
        self._wake_model = wake
        self._pool = pool
        self._limits = Limits(wyoming.max_header_bytes, wyoming.max_payload_bytes)
        self._backoff = Backoff(wyoming.reconnect_initial_s, wyoming.reconnect_max_s, wyoming.reconnect_max_s)
        self._out: asyncio.Queue[Event] | None = None
        self._played: asyncio.Future[None] | None = None
        self._sends_played = False  # wyoming-satellite 1.0 never sends `played`; later ones do
        self._answers_ping = False
        self._pong: asyncio.Event = asyncio.Event()
        self._wake: WakeSpotter | None = None  # set while a pipeline starts at `wake`
        self._in_session = False
        self._speaking = False
        self.connected = asyncio.Event()
        self.stats = LinkStats()

    # -- the dialogue core's hooks -------------------------------------------------------------
    def on_transcript(self, site_id: str, text: str) -> None:
        if site_id == self.site_id:
            self._send(WyTranscript(text=text).event())

    async def speak(self, say: TtsSay) -> SayOutcome:
        """Stream a reply to the satellite and wait until it was played (see `_wait_played`).
        Each part of the reply (a sentence, where the voice streams) is sent as audio-chunks as
        soon as it is synthesised; a link lost meanwhile, or the session ending (the voice core
        cancels this), stops the rest from being synthesised."""
        if self._out is None:
            return SayOutcome.FAILED
        loop = asyncio.get_running_loop()
        speaker = self.settings.speaker
        target = AudioFormat(speaker.rate, speaker.width, speaker.channels)
        first_sent: float | None = None
        audio_open = False  # audio-start sent, audio-stop not yet
        plays_until = 0.0  # loop time by which the satellite should have played what it was sent
        try:
            async with aclosing(self._synth.stream(say.text, self.site_id, say.lang, say.volume)) as parts:
                async for part in parts:
                    pcm = read_wav(part.wav)
                    if self._out is None:
                        return SayOutcome.FAILED  # the link went away: nothing more is synthesised
                    now = loop.time()
                    if first_sent is None:
                        first_sent = now
                        self._played = loop.create_future()
                        self._speaking = True
                        self._send(Synthesize(text=say.text).event())
                        self._send(AudioStart(rate=target.sample_rate, width=target.sample_width, channels=target.channels).event())
                        audio_open = True
                        if self.stats.last_speech_end:
                            self.stats.first_reply_chunk.append(time.perf_counter() - self.stats.last_speech_end)
                    for event in chunk_events(pcm, target):
                        self._send(event)
                    # A part that arrives after the one before has played out starts when it arrives.
                    plays_until = max(plays_until, now) + pcm.duration_s
            if first_sent is None:
                return SayOutcome.FAILED
            self._send(AudioStop().event())
            audio_open = False
            return await self._wait_played(max(0.0, plays_until - loop.time()))
        except (SpeechFailed, AudioFormatError) as exc:
            log.warning("cannot speak on Wyoming satellite %s: %s", self.site_id, exc)
            return SayOutcome.FAILED
        finally:
            if audio_open:  # broken off (failed, or the session ended): what was sent is played
                self._send(AudioStop().event())
            played, self._played = self._played, None
            if played is not None and played.done() and not played.cancelled():
                played.exception()  # a link lost mid-reply: the outcome says so, not an asyncio warning
            self._speaking = False

    async def _wait_played(self, duration_s: float) -> SayOutcome:
        """A satellite that has sent `played` before is waited for (duration + margin); one that
        never has (wyoming-satellite 1.0) is given the reply's duration, then counted as played.
        A link lost meanwhile fails the reply (`_lost`), so the voice core ends the session."""
        assert self._played is not None
        margin = self._wyoming.played_margin_s if self._sends_played else 0.25
        try:
            await within(self._played, duration_s + margin)
        except TimeoutError:
            return SayOutcome.TIMEOUT if self._sends_played else SayOutcome.PLAYED
        except _Closed:
            return SayOutcome.FAILED
        return SayOutcome.PLAYED

    # -- the link ------------------------------------------------------------------------------
    async def run(self) -> None:
        """Dial, serve, and dial again with backoff, until cancelled (then pause the satellite)."""
        host, _, port = self.settings.uri.removeprefix("tcp://").rpartition(":")
        while True:
            try:
                reader, writer = await asyncio.open_connection(host.strip("[]"), int(port), limit=stream_limit(self._limits))
            except OSError as exc:
                delay = self._backoff.next_delay()
                log.info("Wyoming satellite %s unreachable (%s): again in %.1f s", self.settings.uri, exc, delay)
                await asyncio.sleep(delay)
                continue
            self._backoff.reset()
            self.stats.connects += 1
            try:
                await self._serve(reader, writer)
            except (_Closed, ConnectionError, ProtocolError) as exc:
                log.warning("Wyoming satellite %s: %s", self.site_id, exc)
            except Exception:  # isolation boundary: one satellite's fault never stops the gateway
                log.exception("Wyoming satellite %s failed; dialling again", self.site_id)
            finally:
                self._lost()
                writer.close()
            await asyncio.sleep(self._backoff.next_delay())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        out: asyncio.Queue[Event] = asyncio.Queue()
        self._out = out
        self._send(RunSatellite().event())
        self.connected.set()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._writer(writer, out))
                group.create_task(self._pinger())
                while (event := await read_event(reader, self._limits)) is not None:
                    await self._on_event(event)
                raise _Closed("the satellite closed the connection")
        except asyncio.CancelledError:
            await self._final_event(writer, PauseSatellite().event())  # we stop: the satellite pauses
            raise
        except BaseExceptionGroup as group_error:
            error = group_error.exceptions[0]
            if isinstance(error, ProtocolError):
                await self._final_error(writer, str(error))
            if isinstance(error, (ProtocolError, _Closed, ConnectionError)):
                raise error from None
            raise

    async def _writer(self, writer: asyncio.StreamWriter, out: asyncio.Queue[Event]) -> None:
        while True:
            await write_event(writer, await out.get())

    async def _pinger(self) -> None:
        """Ping all the time; a satellite that has answered a ping before and stops answering is
        gone (its TCP connection may linger): drop the link and dial again."""
        while True:
            await asyncio.sleep(self._wyoming.ping_s)
            self._pong.clear()
            self._send(Ping(text=str(time.monotonic())).event())
            if self._answers_ping:
                try:
                    await within(self._pong.wait(), self._wyoming.ping_s)
                except TimeoutError:
                    raise _Closed("no pong within the ping interval") from None

    async def _final_event(self, writer: asyncio.StreamWriter, event: Event) -> None:
        try:
            await within(write_event(writer, event), 1.0)
        except (OSError, TimeoutError):
            pass  # the satellite is gone anyway

    async def _final_error(self, writer: asyncio.StreamWriter, text: str) -> None:
        self.stats.errors_sent.append(text)
        await self._final_event(writer, Error(text=text, code="protocol-error").event())

    def _send(self, event: Event) -> None:
        if self._out is not None:
            self._out.put_nowait(event)

    def _error(self, text: str, code: str) -> None:
        log.info("Wyoming satellite %s: %s", self.site_id, text)
        self.stats.errors_sent.append(text)
        self._send(Error(text=text, code=code).event())

    def _lost(self) -> None:
        """The link went away: nothing may wait on it (a reply in flight, a session listening)."""
        self._out = None
        self.connected.clear()
        self._wake = None
        if self._played is not None and not self._played.done():
            # Not cancel(): the reply's task would take it for its own cancellation and never
            # report the failure, leaving the session waiting.
            self._played.set_exception(_Closed("the satellite went away mid-reply"))
        if not self._speaking:  # a reply in flight fails on its own (above) and ends the session
            self._voice.end_session(self.site_id)

    # -- events from the satellite ---------------------------------------------------------------
    async def _on_event(self, event: Event) -> None:
        kind = event.type
        if AudioChunk.is_type(kind):
            await self._on_audio(event)
        elif RunPipeline.is_type(kind):
            self._on_run_pipeline(event)
        elif AudioStop.is_type(kind):
            self._voice.audio_ended(self.site_id)
        elif Ping.is_type(kind):
            self._send(Pong(text=event.data.get("text")).event())
        elif Pong.is_type(kind):
            self._answers_ping = True
            self._pong.set()
        elif Played.is_type(kind):
            self._sends_played = True
            if self._played is not None and not self._played.done():
                self._played.set_result(None)
        elif AudioStart.is_type(kind) or kind in ("info", "streaming-started", "streaming-stopped"):
            pass  # the format comes with every chunk; the rest is the satellite's own news
        else:
            self._error(f"unknown event type {kind[:64]!r}", "unknown-event")

    def _on_run_pipeline(self, event: Event) -> None:
        try:
            pipeline = RunPipeline.from_event(event)
        except (KeyError, ValueError, TypeError) as exc:
            self._error(f"invalid run-pipeline: {exc}", "invalid-event")
            return
        if pipeline.start_stage is PipelineStage.WAKE:
            self._wake = WakeSpotter(self._wake_model, self._wyoming.wake, self._pool)
        elif pipeline.start_stage is PipelineStage.ASR:
            self._wake = None
            self._start_session(pipeline.wake_word_name or "satellite")
        else:
            self._error(f"pipelines starting at {pipeline.start_stage.value} are not served; start at wake or asr", "unsupported-stage")

    def _start_session(self, wake_word: str) -> None:
        self._in_session = True
        self._voice.wake(self.site_id, wake_word)

    async def _on_audio(self, event: Event) -> None:
        try:
            pcm = chunk_to_recogniser(event)
        except ProtocolError as exc:
            self._error(f"audio chunk refused: {exc}", "invalid-audio")
            return
        if self._voice.in_session(self.site_id):
            self._in_session = True
            listening = self._voice.listening(self.site_id)
            self._voice.audio(self.site_id, pcm)
            if listening and not self._voice.listening(self.site_id):
                self.stats.last_speech_end = time.perf_counter()  # this chunk ended the utterance
            return
        if self._in_session:  # the session is over: the stream is the wake stage's again
            self._in_session = False
            if self._wake is not None:
                self._wake.reset()
        if self._wake is not None and await self._wake.feed(pcm):
            self.stats.wakes += 1
            self._send(Detection(name=self._wyoming.wake.phrase, timestamp=None).event())
            self._start_session(self._wyoming.wake.phrase)
