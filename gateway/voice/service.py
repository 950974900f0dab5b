"""The voice service: Hermes in, sessions per site, recognition, intents, skills, Hermes out.

It plays the Rhasspy roles the shop needs – ASR, NLU and dialogue manager – so a Rhasspy
satellite (wake word on the device, audio frames to us, `tts/say` back) works unmodified.
The pure parts live elsewhere: the session state machine (`session.py`), endpointing (`vad.py`),
templates (`nlu/`); this module only routes and publishes. Audio is held in memory for the
utterance being recognised and dropped after; transcripts go to MQTT (the Hermes protocol) and the
status page, never to the outbox.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor

from gateway.hermes.asr import AsrStartListening, AsrStopListening, AsrTextCaptured
from gateway.hermes.audioserver import AudioFrame
from gateway.hermes.dialogue import (
    DialogueContinueSession,
    DialogueEndSession,
    DialogueSessionEnded,
    DialogueSessionStarted,
    DialogueStartSession,
    SessionInitNotification,
    SessionTermination,
    TerminationReason,
)
from gateway.hermes.hotword import HotwordDetected
from gateway.hermes.intent import Intent, NluIntent, Slot, SlotRange
from gateway.hermes.nlu import NluIntentNotRecognized, NluQuery
from gateway.hermes.tts import TTS_SAY, TtsSay
from gateway.voice.capture import DebugCapture
from gateway.voice.engines.base import AsrEngine, Transcript
from gateway.voice.identity import IdentityBindings
from gateway.voice.listener import Listening, finish, new_listening, pump
from gateway.voice.nlu.match import IntentMatch, Matcher, char_range
from gateway.voice.outbound import HermesOut
from gateway.voice.session import Phase, Session, SessionTable
from gateway.voice.settings import VoiceSettings
from gateway.voice.skillrunner import SkillFailed, SkillRunner
from gateway.voice.vad import VadState
from gateway.voice.wav import AudioFormatError, read_wav_chunk
from skills.api import Notify, Reply

log = logging.getLogger(__name__)

NOT_UNDERSTOOD = {"en": "Sorry, I did not understand that.", "de": "Entschuldigung, das habe ich nicht verstanden."}
IntentListener = Callable[[Session, IntentMatch], None]
TurnListener = Callable[[Session, Transcript, IntentMatch | None, float], None]


class VoiceService:
    def __init__(
        self,
        settings: VoiceSettings,
        engine: AsrEngine,
        matcher: Matcher,
        skills: SkillRunner,
        identity: IdentityBindings,
        out: HermesOut,
        publish_json: Callable[[str, bytes], None],
        pool: Executor,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.matcher = matcher
        self.skills = skills
        self.identity = identity
        self.out = out
        self._publish_json = publish_json
        self._pool = pool
        self._clock = clock
        self._capture = DebugCapture(settings.debug_capture) if settings.debug_capture.enabled else None
        self.sessions = SessionTable()
        self._listening: dict[str, Listening] = {}
        self._group: asyncio.TaskGroup | None = None
        self.on_intent: list[IntentListener] = []
        self.on_turn: list[TurnListener] = []
        self.frames_refused = 0

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                while True:
                    await asyncio.sleep(1.0)
                    for session in self.sessions.expired(self._clock(), self.settings.session_timeout_s):
                        self._end(session, TerminationReason.TIMEOUT)
            finally:
                for site in list(self._listening):
                    self._stop_listening(site)
                self._group = None

    # -- sessions ---------------------------------------------------------------------------------
    def start_session(self, message: DialogueStartSession) -> Session | None:
        if isinstance(message.init, SessionInitNotification):
            session, _ = self._open(message.siteId, own=True, custom_data=message.customData)
            self._say(session, message.init.text)
            self._end(session, TerminationReason.NOMINAL)
            return None
        session, _ = self._open(
            message.siteId,
            own=True,
            custom_data=message.customData,
            intent_filter=message.init.intentFilter,
            send_intent_not_recognized=message.init.sendIntentNotRecognized,
        )
        if message.init.text:
            self._say(session, message.init.text)
        self._listen(session)
        return session

    def hotword_detected(self, message: HotwordDetected) -> None:
        session, _ = self._open(message.siteId, own=True)
        self._listen(session)

    def start_listening(self, message: AsrStartListening) -> None:
        """Another dialogue manager uses us as its recogniser."""
        session = self.sessions.get(message.sessionId) if message.sessionId else None
        if session is None or not session.own:
            session, _ = self._open(message.siteId, own=False, session_id=message.sessionId, announce=False)
        else:
            session.listen_again(message.intentFilter or session.intent_filter)
        self._listen(session)

    def stop_listening(self, message: AsrStopListening) -> None:
        listening = self._listening.get(message.siteId)
        if listening is not None and (message.sessionId is None or message.sessionId == listening.session_id):
            self._utterance_over(listening, VadState.ENDED)

    def end_session(self, message: DialogueEndSession) -> None:
        session = self.sessions.get(message.sessionId)
        if session is None:
            self.out.error("dialogueManager", f"no session {message.sessionId}", "default", message.sessionId)
            return
        if message.text:
            self._say(session, message.text)
        self._end(session, TerminationReason.NOMINAL)

    def continue_session(self, message: DialogueContinueSession) -> None:
        session = self.sessions.get(message.sessionId)
        if session is None:
            self.out.error("dialogueManager", f"no session {message.sessionId}", "default", message.sessionId)
            return
        if message.text:
            self._say(session, message.text)
        session.send_intent_not_recognized = message.sendIntentNotRecognized
        session.listen_again(message.intentFilter)
        self._listen(session)

    def _open(self, site_id: str, *, own: bool, session_id: str | None = None, announce: bool = True, **options: object) -> tuple[Session, Session | None]:
        customer = self.identity.customer_at(site_id)
        session, aborted = self.sessions.start(
            site_id, self._clock(), self.settings.language, own=own, session_id=session_id, customer_id=customer, **options
        )
        if aborted is not None:  # barge-in: the new session wins
            self._stop_listening(site_id)
            self._announce_end(aborted)
        if announce:
            started = DialogueSessionStarted(sessionId=session.session_id, siteId=site_id, customData=session.custom_data, lang=session.lang)
            self.out.send(started.topic(), started)
        return session, aborted

    def _end(self, session: Session, reason: TerminationReason, error: str | None = None) -> None:
        self._stop_listening(session.site_id, session.session_id)
        if self.sessions.finish(session, reason):
            self._announce_end(session, error)

    def _announce_end(self, session: Session, error: str | None = None) -> None:
        if not session.own:
            return
        reason = session.termination or TerminationReason.NOMINAL
        ended = DialogueSessionEnded(
            sessionId=session.session_id, siteId=session.site_id, customData=session.custom_data,
            termination=SessionTermination(reason=reason, error=error),
        )
        self.out.send(ended.topic(), ended)

    # -- audio ------------------------------------------------------------------------------------
    def _listen(self, session: Session) -> None:
        self._stop_listening(session.site_id)
        if self._group is None:
            raise RuntimeError("voice service is not running")
        listening = new_listening(session.site_id, session.session_id, self.settings.endpoint, self._clock(), self._capture is not None)
        listening.worker = self._group.create_task(pump(listening, self._pool, self.engine.recogniser))
        self._listening[session.site_id] = listening

    def _stop_listening(self, site_id: str, session_id: str | None = None) -> None:
        listening = self._listening.get(site_id)
        if listening is None or (session_id is not None and listening.session_id != session_id):
            return
        del self._listening[site_id]
        if not listening.done:
            listening.done = True
            listening.queue.put_nowait(None)
            if self._group is not None:
                self._group.create_task(self._release(listening))

    async def _release(self, listening: Listening) -> None:
        if listening.worker is not None:
            await listening.worker
        recogniser = listening.recogniser
        if recogniser is not None:
            await asyncio.get_running_loop().run_in_executor(self._pool, recogniser.close)

    def audio_frame(self, frame: AudioFrame) -> None:
        listening = self._listening.get(frame.site_id)
        if frame.session_id is not None and (listening is None or listening.session_id != frame.session_id):
            self.frames_refused += 1
            self.out.error("asr", f"audio for unknown session {frame.session_id}", frame.site_id, frame.session_id)
            return
        try:
            chunk = read_wav_chunk(frame.wav, self.settings.max_frame_bytes)
        except AudioFormatError as exc:
            self.frames_refused += 1
            self.out.error("asr", f"malformed audio: {exc}", frame.site_id, listening.session_id if listening else None)
            if listening is not None:
                session = self.sessions.get(listening.session_id)
                if session is not None:
                    self._end(session, TerminationReason.ERROR, f"malformed audio: {exc}")
            return
        if listening is None or listening.done:
            return  # satellites stream all the time; without a session the audio is dropped
        state = listening.feed(chunk.pcm)
        if state is not VadState.WAITING and state is not VadState.SPEECH:
            self._utterance_over(listening, state)

    def _utterance_over(self, listening: Listening, state: VadState) -> None:
        if listening.done or self._group is None:
            return
        del self._listening[listening.site_id]
        session = self.sessions.get(listening.session_id)
        if session is None or session.phase is not Phase.LISTENING:
            listening.done = True
            listening.queue.put_nowait(None)
            self._group.create_task(self._release(listening))
            return
        session.utterance_ended()
        self._group.create_task(self._turn(session, listening, state))

    # -- a turn: recognise, understand, answer ------------------------------------------------------
    async def _turn(self, session: Session, listening: Listening, state: VadState) -> None:
        last_frame_at = listening.last_frame_at
        if state is VadState.TOO_LONG:
            await self._release_after(listening)
            error = f"utterance longer than {self.settings.endpoint.max_utterance_s:g} s"
            self.out.error("asr", error, session.site_id, session.session_id)
            self._end(session, TerminationReason.ERROR, error)
            return
        if state is VadState.NO_SPEECH or not listening.heard_speech:
            await self._release_after(listening)
            self._text_captured(session, Transcript("", 0.0, listening.audio_s, 0.0))
            self._end(session, TerminationReason.TIMEOUT)
            return
        loop = asyncio.get_running_loop()
        try:
            transcript = await finish(listening, self._pool)
            match = self._understand(transcript, session)
            if match is None and self.settings.dictation and listening.recogniser is not None:
                free = await loop.run_in_executor(self._pool, listening.recogniser.dictate)
                if free is not None and free.text:
                    transcript = Transcript(free.text, free.confidence, transcript.audio_s, transcript.decode_s + free.decode_s, True)
                    match = self._understand(transcript, session)
            if match is not None and match.text != transcript.text:
                transcript = dataclasses.replace(transcript, text=match.text)  # the reading understood (n-best)
            self._text_captured(session, transcript)
            if not session.own:
                self._end(session, TerminationReason.NOMINAL)  # announced only for our own sessions
            else:
                await self._answer(session, transcript, match, last_frame_at)
        finally:
            # After the answer: closing prepares the recogniser for the next turn (PocketSphinx
            # builds a fresh decoder), which must not delay this one.
            if listening.recogniser is not None:
                await loop.run_in_executor(self._pool, listening.recogniser.close)
            if self._capture is not None and listening.capture:
                await loop.run_in_executor(self._pool, self._capture.save, session.site_id, b"".join(listening.capture))

    async def _release_after(self, listening: Listening) -> None:
        listening.done = True
        listening.queue.put_nowait(None)
        await self._release(listening)

    def _understand(self, transcript: Transcript, session: Session) -> IntentMatch | None:
        if transcript.confidence < self.engine.min_confidence and not transcript.dictation:
            return None
        match = self.matcher.match(transcript.text, session.intent_filter)
        for reading in transcript.alternatives:
            if match is not None:
                break
            match = self.matcher.match(reading, session.intent_filter)
        if match is not None and match.confidence < self.settings.min_confidence:
            return None
        return match

    def _text_captured(self, session: Session, transcript: Transcript) -> None:
        message = AsrTextCaptured(
            text=transcript.text, likelihood=transcript.confidence, seconds=round(transcript.audio_s, 3),
            siteId=session.site_id, sessionId=session.session_id, lang=session.lang,
        )
        self.out.send(message.topic(), message)

    async def _answer(self, session: Session, transcript: Transcript, match: IntentMatch | None, last_frame_at: float) -> None:
        session.recognised()
        if match is None:
            self.not_recognised(transcript.text, session.site_id, session.session_id, session.custom_data)
            for listener in self.on_turn:
                listener(session, transcript, None, time.perf_counter() - last_frame_at)
            if session.send_intent_not_recognized:
                return  # the skill that asked decides what happens next
            self._say(session, NOT_UNDERSTOOD.get(session.lang, NOT_UNDERSTOOD["en"]))
            self._end(session, TerminationReason.INTENT_NOT_RECOGNIZED)
            return
        self.publish_intent(match, session.site_id, session.session_id, session.custom_data, transcript.confidence)
        for intent_listener in self.on_intent:
            intent_listener(session, match)
        if not self.skills.handles(match.intent):
            return  # an external skill answers with endSession/continueSession (or the session times out)
        try:
            reply = await self.skills.run(session, match)
        except SkillFailed as exc:
            self.out.error("dialogueManager", str(exc), session.site_id, session.session_id)
            reply = Reply(self.skills.apology(session.lang))
        self._deliver(session, reply)
        for listener in self.on_turn:
            listener(session, transcript, match, time.perf_counter() - last_frame_at)

    def _deliver(self, session: Session, reply: Reply) -> None:
        for notify in reply.notify:
            self._notify(session, notify)
        if reply.say:
            self._say(session, reply.say)
        if reply.end_session:
            self._end(session, TerminationReason.NOMINAL)
        else:
            session.listen_again(session.intent_filter)
            self._listen(session)

    def _notify(self, session: Session, notify: Notify) -> None:
        if notify.target != "staff":
            self.out.error("dialogueManager", f"unknown notification target {notify.target}", session.site_id, session.session_id)
            return
        topic = self.settings.staff_topic.format(site=session.site_id)
        self._publish_json(topic, json.dumps(dict(notify.payload)).encode())

    def _say(self, session: Session, text: str) -> None:
        say = TtsSay(text=text, siteId=session.site_id, sessionId=session.session_id, lang=session.lang)
        self.out.send(TTS_SAY, say)

    # -- NLU as a service (hermes/nlu/query) ---------------------------------------------------------
    def nlu_query(self, query: NluQuery) -> None:
        match = self.matcher.match(query.input, query.intentFilter)
        if match is None:
            self.not_recognised(query.input, query.siteId, query.sessionId, None, query.id)
        else:
            self.publish_intent(match, query.siteId, query.sessionId, None, query.asrConfidence, query.id)

    def not_recognised(self, text: str, site_id: str, session_id: str | None, custom_data: str | None, request_id: str | None = None) -> None:
        message = NluIntentNotRecognized(input=text, id=request_id, siteId=site_id, sessionId=session_id, customData=custom_data)
        self.out.send(message.topic(), message)

    def publish_intent(
        self, match: IntentMatch, site_id: str, session_id: str | None, custom_data: str | None,
        asr_confidence: float | None, request_id: str | None = None,
    ) -> None:
        slots = []
        for slot in match.slots:
            start, end = char_range(match.tokens, slot.start_token, slot.end_token)
            kind = "Number" if isinstance(slot.value, int) else "Unknown"
            slots.append(
                Slot(entity=slot.list_name, slotName=slot.name, value={"kind": kind, "value": slot.value}, rawValue=slot.raw,
                     range=SlotRange(start=start, end=end, rawStart=start, rawEnd=end))
            )
        message = NluIntent(
            input=match.text, rawInput=match.text, intent=Intent(intentName=match.intent, confidenceScore=match.confidence),
            slots=slots, id=request_id, siteId=site_id, sessionId=session_id, customData=custom_data,
            asrConfidence=asr_confidence, lang=self.settings.language,
        )
        self.out.send(message.topic(), message)
