"""The Wyoming server: the gateway's recogniser, voices and skills as services Home Assistant's
Wyoming integration can add (speech-to-text, text-to-speech, conversation agent).

- `describe` → `info`: asr (the recogniser of each language), tts (a voice per language), intent
  and handle (the skills' intents).
- `transcribe` + `audio-start/chunk/stop` (any rate/width/channels declared) → `transcript`.
- `synthesize` → `audio-start/chunk/stop` in the voice's own format.
- `recognize` → `intent` / `not-recognized`; `transcript` (how Home Assistant asks a handle
  service) → the skill's reply as `handled`, or `not-handled`.

Requests run on the site `wyoming.server.site_id` (its language and identity binding). Every
request is bounded (event sizes, utterance length); what is not understood gets an `error` event
and the connection goes on, except for framing errors after which the stream cannot be trusted.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from contextlib import aclosing

from wyoming.asr import Transcribe, Transcript as WyTranscript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled, NotHandled
from wyoming.info import (
    AsrModel, AsrProgram, Attribution, Describe, HandleModel, HandleProgram, Info, IntentModel, IntentProgram,
    TtsProgram, TtsVoice,
)
from wyoming.intent import Entity, Intent, NotRecognized, Recognize
from wyoming.ping import Ping, Pong
from wyoming.tts import Synthesize

from gateway.audio import AudioFormatError, read_wav
from gateway.ports import SpeechFailed, SpeechServices, Synthesise
from gateway.wyoming.audio import chunk_events, chunk_to_recogniser
from gateway.wyoming.framing import Limits, ProtocolError, read_event, stream_limit, write_event
from gateway.wyoming.settings import WyomingSettings
from gateway.waiting import within

log = logging.getLogger(__name__)

# No public home page to link: Home Assistant shows the name, and an empty link is no link.
ATTRIBUTION = Attribution(name="Touchgate", url="")
BYTES_PER_S = 32_000
ASKED_BACK = "touchgate_asked_back"  # the key of a question asked back, in a handle's context
MAX_CONVERSATION_ID = 128  # characters kept of a client's conversation id (Home Assistant's: a 26-character ULID)


class WyomingServer:
    def __init__(self, settings: WyomingSettings, voice: SpeechServices, synthesiser: Synthesise | None, pool: Executor) -> None:
        self._settings = settings
        self._voice = voice
        self._synth = synthesiser
        self._pool = pool
        self._limits = Limits(settings.max_header_bytes, settings.max_payload_bytes)
        self._slots = asyncio.Semaphore(settings.server.max_connections)
        self.port: int | None = None
        self.errors_sent: list[str] = []

    async def run(self, started: asyncio.Event | None = None) -> None:
        server = await asyncio.start_server(
            self._connection, self._settings.server.host, self._settings.server.port, limit=stream_limit(self._limits)
        )
        self.port = server.sockets[0].getsockname()[1]
        log.info("Wyoming server on %s:%s", self._settings.server.host, self.port)
        if started is not None:
            started.set()
        async with server:
            await server.serve_forever()

    def info(self) -> Info:
        languages = list(self._voice.languages())
        engine = self._voice.recogniser_name
        return Info(
            asr=[AsrProgram(name="touchgate-asr", attribution=ATTRIBUTION, installed=True, description="Touchgate speech recognition", version=None,
                            models=[AsrModel(name=f"{engine}-{lang}", attribution=ATTRIBUTION, installed=True, description=f"{engine} ({lang}), the shop's sentences", version=None, languages=[lang]) for lang in languages])],
            tts=[TtsProgram(name="touchgate-tts", attribution=ATTRIBUTION, installed=self._synth is not None, description="Touchgate voices", version=None,
                            voices=[TtsVoice(name=f"touchgate-{lang}", attribution=ATTRIBUTION, installed=True, description=f"the shop's {lang} voice", version=None, languages=[lang]) for lang in languages])] if self._synth is not None else [],
            intent=[IntentProgram(name="touchgate-intent", attribution=ATTRIBUTION, installed=True, description="Touchgate intents", version=None,
                                  models=[IntentModel(name=f"skills-{lang}", attribution=ATTRIBUTION, installed=True, description=None, version=None, languages=[lang]) for lang in languages])],
            handle=[HandleProgram(name="touchgate-skills", attribution=ATTRIBUTION, installed=True, description="Touchgate skills", version=None,
                                  models=[HandleModel(name=f"skills-{lang}", attribution=ATTRIBUTION, installed=True, description=None, version=None, languages=[lang]) for lang in languages])],
        )

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._slots.locked():
            await self._reply(writer, Error(text="too many Wyoming connections (wyoming.server.max_connections)", code="busy").event())
            writer.close()
            return
        async with self._slots:
            try:
                await _Conversation(self, reader, writer).run()
            except ProtocolError as exc:
                self.errors_sent.append(str(exc))
                await self._reply(writer, Error(text=str(exc), code="protocol-error").event())
            except ConnectionError:
                pass
            finally:
                writer.close()

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, event: Event) -> None:
        try:
            await within(write_event(writer, event), 2.0)
        except (OSError, TimeoutError):
            pass


class _Conversation:
    """One client connection: its own utterance being transcribed, requests answered in order."""

    def __init__(self, server: WyomingServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._server = server
        self._reader = reader
        self._writer = writer
        self._language: str | None = None
        self._audio: list[bytes] | None = None
        self._audio_bytes = 0

    @property
    def _site(self) -> str:
        return self._server._settings.server.site_id

    def _lang(self, requested: str | None) -> str:
        return self._server._voice.language_for(self._site, requested)

    async def run(self) -> None:
        while (event := await read_event(self._reader, self._server._limits)) is not None:
            await self._on_event(event)

    async def _send(self, event: Event) -> None:
        await write_event(self._writer, event)

    async def _error(self, text: str, code: str) -> None:
        self._server.errors_sent.append(text)
        await self._send(Error(text=text, code=code).event())

    async def _on_event(self, event: Event) -> None:
        kind = event.type
        try:
            if Describe.is_type(kind):
                await self._send(self._server.info().event())
            elif Transcribe.is_type(kind):
                self._language = Transcribe.from_event(event).language
            elif AudioStart.is_type(kind):
                self._audio, self._audio_bytes = [], 0
            elif AudioChunk.is_type(kind):
                await self._on_chunk(event)
            elif AudioStop.is_type(kind):
                await self._transcribe()
            elif Synthesize.is_type(kind):
                await self._synthesize(Synthesize.from_event(event))
            elif Recognize.is_type(kind):
                await self._recognize(Recognize.from_event(event))
            elif WyTranscript.is_type(kind):
                transcript = WyTranscript.from_event(event)
                await self._handle(transcript.text, transcript.context)
            elif Ping.is_type(kind):
                await self._send(Pong(text=event.data.get("text")).event())
            else:
                await self._error(f"unknown event type {kind[:64]!r}", "unknown-event")
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ProtocolError):
                await self._error(str(exc), "invalid-event")
            else:
                await self._error(f"invalid {kind[:64]} event: {type(exc).__name__}: {exc}", "invalid-event")

    async def _on_chunk(self, event: Event) -> None:
        pcm = chunk_to_recogniser(event)
        if self._audio is None:
            self._audio, self._audio_bytes = [], 0  # audio-start is optional in practice
        self._audio_bytes += len(pcm)
        if self._audio_bytes > self._server._settings.max_utterance_s * BYTES_PER_S:
            self._audio = None
            raise ProtocolError(f"utterance longer than {self._server._settings.max_utterance_s:g} s (wyoming.max_utterance_s)")
        self._audio.append(pcm)

    async def _transcribe(self) -> None:
        audio, self._audio = self._audio or [], None
        language = self._lang(self._language)
        text = await self._server._voice.transcribe(b"".join(audio), language, self._server._pool)
        await self._send(WyTranscript(text=text, language=language).event())

    async def _synthesize(self, request: Synthesize) -> None:
        synth = self._server._synth
        if synth is None:
            await self._error("text-to-speech is off (tts.enabled)", "tts-off")
            return
        language = request.voice.language if request.voice is not None else None
        if language is None and request.voice is not None and request.voice.name and request.voice.name.startswith("touchgate-"):
            language = request.voice.name.removeprefix("touchgate-")
        # Streamed: each part (a sentence, where the voice streams) goes out as soon as it is
        # synthesised, in the voice's own format; a client gone mid-reply ends the loop by the
        # failed write, which closes the stream, so the rest is not synthesised.
        started = False
        try:
            async with aclosing(synth.stream(request.text, self._site, language)) as parts:
                async for part in parts:
                    pcm = read_wav(part.wav)
                    if not started:
                        started = True
                        await self._send(AudioStart(rate=pcm.format.sample_rate, width=pcm.format.sample_width, channels=pcm.format.channels).event())
                    for event in chunk_events(pcm, pcm.format):
                        await self._send(event)
        except (SpeechFailed, AudioFormatError) as exc:  # mid-reply too: no audio-stop, the reply is not whole
            await self._error(f"cannot synthesise: {exc}", "tts-failed")
            return
        await self._send(AudioStop().event())

    async def _recognize(self, request: Recognize) -> None:
        match = self._server._voice.recognise(request.text, self._lang(None))
        if match is None:
            await self._send(NotRecognized(text=request.text).event())
            return
        entities = [Entity(name=name, value=value) for name, value in match.slots.items()]
        await self._send(Intent(name=match.name, entities=entities, text=match.text).event())

    async def _handle(self, text: str, context: object) -> None:
        """A conversation turn from Home Assistant: intent, rules, the skill's reply text. A
        question asked back (an effectful intent not sure enough) is answered by the next text of
        the same conversation: Home Assistant sends its `conversation_id` in the context of each
        turn; other clients send back the `context` of the question (the protocol's "context for
        next interaction")."""
        conversation = None
        if isinstance(context, dict):
            for key in (ASKED_BACK, "conversation_id"):
                if isinstance(context.get(key), str):
                    conversation = context[key][:MAX_CONVERSATION_ID]
                    break
        result = await self._server._voice.handle(self._site, text, self._lang(None), conversation)
        reply_context = {ASKED_BACK: result.asked} if result.asked is not None else None
        await self._send((Handled if result.handled else NotHandled)(text=result.text, context=reply_context).event())
