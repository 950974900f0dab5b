"""The voice service: Hermes in, sessions per site, recognition, intents, skills, replies spoken.

It plays the Rhasspy roles the shop needs – dialogue manager, ASR and NLU – so a Rhasspy
satellite (wake word on the device, audio frames to us, a loudspeaker for `playBytes`) works
unmodified. A turn: `hotword/<id>/detected` → `sessionStarted`, `hotword/toggleOff`,
`asr/startListening` → audio → `textCaptured` → intent → skill → reply spoken (the TTS part sends
`playBytes` and waits for `playFinished`) → `sessionEnded`, `hotword/toggleOn`.
Pure parts live elsewhere (sessions `session.py`, endpointing `vad.py`, templates `nlu/`). Audio is
held in memory for the utterance being recognised only; transcripts never go to the outbox.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import Executor
from typing import Any

from gateway.hermes.asr import AsrStartListening, AsrStopListening
from gateway.hermes.audioserver import AudioFrame
from gateway.hermes.dialogue import (
    DialogueContinueSession,
    DialogueEndSession,
    DialogueSessionEnded,
    DialogueSessionQueued,
    DialogueSessionStarted,
    DialogueStartSession,
    SessionInitNotification,
    SessionTermination,
    TerminationReason,
)
from gateway.hermes.base import language_tag
from gateway.hermes.hotword import HotwordDetected, HotwordToggleOff, HotwordToggleOn
from gateway.hermes.nlu import NluQuery
from gateway.voice.capture import DebugCapture
from gateway.listeners import Listeners
from gateway.voice.confirm import Confirmations
from gateway.voice.engines.base import AsrEngine, Transcript
from gateway.voice.effects import EffectGuard
from gateway.voice.identity import IdentityBindings
from gateway.voice.intents import IntentOut
from gateway.voice.language import LanguageKit
from gateway.voice.listener import Listening, new_listening, pump, release, stop
from gateway.voice.nlu.match import IntentMatch
from gateway.voice.notify import Notifier
from gateway.voice.replies import SessionReplies
from gateway.voice.answer import DialogueMoves, TurnAnswers
from gateway.voice.outbound import HermesOut
from gateway.voice.session import Phase, Session, SessionTable
from gateway.voice.settings import VoiceSettings
from gateway.ports import ReplySpeaker
from gateway.voice.understand import understand
from gateway.voice.vad import VadState
from gateway.audio import AudioFormatError, read_frame

TICK_S = 0.2  # how often session timeouts are checked


class VoiceService:
    def __init__(
        self,
        settings: VoiceSettings,
        kits: Mapping[str, LanguageKit],
        identity: IdentityBindings,
        out: HermesOut,
        publish_json: Callable[[str, bytes], None],
        pool: Executor,
        speaker: ReplySpeaker,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.kits = kits
        self.identity = identity
        self.out = out
        self.intents = IntentOut(out)
        self.speaker = speaker
        self.notifier = Notifier(settings.staff_topic, publish_json, out)  # transports without sessions notify too
        self._effects = EffectGuard(settings.guard)
        self._confirmations = Confirmations(settings.confirm_min_confidence)
        self._pool = pool
        self._clock = clock
        self._capture = DebugCapture(settings.debug_capture) if settings.debug_capture.enabled else None
        self.sessions = SessionTable()
        self._listening: dict[str, Listening] = {}
        self._replies = SessionReplies(speaker, self._spawn, self._end, clock)
        self._group: asyncio.TaskGroup | None = None
        # Told after the fact (rules, metrics): a failing listener is logged and counted, the turn goes on.
        self.on_intent: Listeners[[Session, IntentMatch]] = Listeners("voice on_intent")
        self.on_turn: Listeners[[Session, Transcript, IntentMatch | None, float]] = Listeners("voice on_turn")
        self._answers = TurnAnswers(
            DialogueMoves(self._speak_then, self._end, self._listen, self.continue_session),
            self.intents, self.out, self.notifier, self._effects, self._confirmations, self._clock, self.on_intent, self.on_turn,
        )
        self.frames_refused = 0

    @property
    def engine(self) -> AsrEngine:
        """The recogniser of `voice.language` (sites without a language of their own)."""
        return self.kits[self.settings.language].engine

    def kit(self, lang: str) -> LanguageKit:
        return self.kits.get(lang) or self.kits[self.settings.language]

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                while True:
                    await asyncio.sleep(TICK_S)
                    for session in self.sessions.expired(self._clock()):
                        self._end(session, TerminationReason.TIMEOUT, f"no progress within {session.timeout_s:g} s")
            finally:
                for site in list(self._listening):
                    self._stop_listening(site)
                self._group = None

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        if self._group is None:
            work.close()
            raise RuntimeError("voice service is not running")
        return self._group.create_task(work)

    # -- sessions ---------------------------------------------------------------------------------
    def start_session(self, message: DialogueStartSession) -> None:
        site = message.siteId
        if self.sessions.at(site) is None:
            self._begin(message)
            return
        # Notifications wait their turn too: they must not cut a customer off mid-sentence.
        enqueue = isinstance(message.init, SessionInitNotification) or message.init.canBeEnqueued
        queued = self.sessions.enqueue(site, message, self.settings.max_queued_per_site) if enqueue else None
        if queued is None:
            why = "its queue is full (voice.max_queued_per_site)" if enqueue else "the session cannot be enqueued"
            self.out.error("dialogueManager", f"site {site} is busy and {why}: session dropped", site, context=message.customData)
            return
        self.out.send(DialogueSessionQueued.topic(), DialogueSessionQueued(sessionId=queued.session_id, siteId=site, customData=message.customData))

    def _begin(self, message: DialogueStartSession, session_id: str | None = None) -> None:
        init = message.init
        if isinstance(init, SessionInitNotification):
            session = self._open(message.siteId, own=True, session_id=session_id, lang=message.lang, custom_data=message.customData)
            self._speak_then(session, init.text, lambda: self._end(session, TerminationReason.NOMINAL))
            return
        session = self._open(
            message.siteId, own=True, session_id=session_id, lang=message.lang, custom_data=message.customData,
            intent_filter=init.intentFilter, send_intent_not_recognized=init.sendIntentNotRecognized,
        )
        self._speak_then(session, init.text, lambda: self._listen(session))

    def hotword_detected(self, message: HotwordDetected) -> None:
        """A wake word: a new session, aborting (barge-in) whatever the site was doing."""
        session = self._open(message.siteId, own=True, lang=message.lang)
        self._listen(session)

    def start_listening(self, message: AsrStartListening) -> None:
        """Another dialogue manager uses us as its recogniser."""
        session = self.sessions.get(message.sessionId) if message.sessionId else None
        if session is not None and session.own:
            return  # our own startListening, back from the broker: already listening
        session = self._open(message.siteId, own=False, session_id=message.sessionId, announce=False, lang=message.lang)
        self._listen(session, intent_filter=message.intentFilter)

    def stop_listening(self, message: AsrStopListening) -> None:
        listening = self._listening.get(message.siteId)
        if listening is not None and (message.sessionId is None or message.sessionId == listening.session_id):
            self._utterance_over(listening, VadState.ENDED)

    def end_session(self, message: DialogueEndSession) -> None:
        session = self._session_for(message.sessionId, message.customData)
        if session is not None:
            self._speak_then(session, message.text, lambda: self._end(session, TerminationReason.NOMINAL))

    def continue_session(self, message: DialogueContinueSession) -> None:
        session = self._session_for(message.sessionId, message.customData)
        if session is None:
            return
        session.send_intent_not_recognized = message.sendIntentNotRecognized
        session.intent_filter = message.intentFilter
        self._speak_then(session, message.text, lambda: self._listen(session))

    def _session_for(self, session_id: str, custom_data: str | None) -> Session | None:
        """Our session (an external skill answers it), its customData updated; or an error."""
        session = self.sessions.get(session_id)
        if session is None or not session.own:
            self.out.error("dialogueManager", f"no session {session_id}", "default", session_id)
            return None
        if custom_data is not None:
            session.custom_data = custom_data
        return session

    def _open(self, site_id: str, *, own: bool, session_id: str | None = None, announce: bool = True, lang: str | None = None, **options: object) -> Session:
        tag = language_tag(lang)
        language = tag if tag is not None and tag in self.kits else self.settings.language_of(site_id)
        session, aborted = self.sessions.start(
            site_id, self._clock(), language, own=own, session_id=session_id,
            timeout_s=self.settings.session_timeout_of(site_id), **options,
        )
        self.identity.opened(session)  # bound only by a tap for this session (identity.py)
        if aborted is not None:  # barge-in: the new session wins, and is a new person
            self._replies.stop(aborted)
            self._confirmations.forget(aborted.session_id)
            self.identity.closed(aborted)
            self._stop_listening(site_id)
            self._announce_end(aborted)
        if announce:
            started = DialogueSessionStarted(sessionId=session.session_id, siteId=site_id, customData=session.custom_data, lang=session.lang)
            self.out.send(started.topic(), started)
            if aborted is None or not aborted.own:
                self._toggle_hotword(site_id, on=False)
        return session

    def _end(self, session: Session, reason: TerminationReason, error: str | None = None) -> None:
        self._replies.stop(session)
        self._stop_listening(session.site_id, session.session_id)
        self._effects.forget(session.session_id)
        self._confirmations.forget(session.session_id)
        self.identity.closed(session)
        if self.sessions.finish(session, reason):
            self._announce_end(session, error)
            if session.own:
                self._toggle_hotword(session.site_id, on=True)
        queued = self.sessions.next_queued(session.site_id)
        if queued is not None:
            self._begin(queued.request, queued.session_id)

    def _announce_end(self, session: Session, error: str | None = None) -> None:
        if not session.own:
            return
        reason = session.termination or TerminationReason.NOMINAL
        ended = DialogueSessionEnded(
            sessionId=session.session_id, siteId=session.site_id, customData=session.custom_data,
            termination=SessionTermination(reason=reason, error=error),
        )
        self.out.send(ended.topic(), ended)

    def _toggle_hotword(self, site_id: str, on: bool) -> None:
        toggle = (HotwordToggleOn if on else HotwordToggleOff)(siteId=site_id)
        self.out.send(toggle.topic(), toggle)

    # -- speaking ---------------------------------------------------------------------------------
    def _speak_then(self, session: Session, text: str | None, then: Callable[[], None]) -> None:
        """Speak on the session's site, then `then` (at once when there is nothing to say)."""
        if not text:
            then()
            return
        self._stop_listening(session.site_id, session.session_id)
        self._replies.speak_then(session, text, then)

    # -- audio ------------------------------------------------------------------------------------
    def _listen(self, session: Session, intent_filter: list[str] | None = None) -> None:
        self._stop_listening(session.site_id)
        if self._group is None:
            raise RuntimeError("voice service is not running")
        session.listen_again(intent_filter if intent_filter is not None else session.intent_filter, self._clock())
        if session.own:  # tell the site (and any Hermes tool) that we listen now
            start = AsrStartListening(siteId=session.site_id, sessionId=session.session_id, lang=session.lang, intentFilter=session.intent_filter)
            self.out.send(start.topic(), start)
        endpoint = self.settings.endpoint_of(session.site_id)
        listening = new_listening(session.site_id, session.session_id, endpoint, self._clock(), self._capture is not None)
        engine, intents = self.kit(session.lang).engine, session.intent_filter
        listening.worker = self._group.create_task(pump(listening, self._pool, lambda: engine.recogniser(intents)))
        self._listening[session.site_id] = listening

    def _stop_listening(self, site_id: str, session_id: str | None = None) -> None:
        listening = self._listening.get(site_id)
        if listening is None or (session_id is not None and listening.session_id != session_id):
            return
        del self._listening[site_id]
        if stop(listening) and self._group is not None:
            self._group.create_task(release(listening, self._pool))

    def audio_frame(self, frame: AudioFrame) -> None:
        listening = self._listening.get(frame.site_id)
        if frame.session_id is not None and (listening is None or listening.session_id != frame.session_id):
            if self.sessions.get(frame.session_id) is not None:
                return  # the session speaks or thinks: the satellite keeps streaming, we drop it
            self.frames_refused += 1
            self.out.error("asr", f"audio for unknown session {frame.session_id}", frame.site_id, frame.session_id)
            return
        try:
            chunk = read_frame(frame.wav, self.settings.max_frame_bytes)
        except AudioFormatError as exc:
            self.frames_refused += 1
            self.out.error("asr", f"malformed audio: {exc}", frame.site_id, listening.session_id if listening else None)
            if listening is not None:
                session = self.sessions.get(listening.session_id)
                if session is not None:
                    self._end(session, TerminationReason.ERROR, f"malformed audio: {exc}")
            return
        self.audio_pcm(frame.site_id, chunk.pcm)

    def audio_pcm(self, site_id: str, pcm: bytes) -> None:
        """16 kHz mono 16-bit audio from a site, whichever transport brought it (Hermes frames,
        Wyoming chunks): fed to the site's utterance in progress, dropped when none is."""
        listening = self._listening.get(site_id)
        if listening is None or listening.done:
            return  # satellites stream all the time; without a session the audio is dropped
        state = listening.feed(pcm)
        if state is not VadState.WAITING and state is not VadState.SPEECH:
            self._utterance_over(listening, state)

    def _utterance_over(self, listening: Listening, state: VadState) -> None:
        if listening.done or self._group is None:
            return
        del self._listening[listening.site_id]
        session = self.sessions.get(listening.session_id)
        if session is None or session.phase is not Phase.LISTENING:
            stop(listening)
            self._group.create_task(release(listening, self._pool))
            return
        session.utterance_ended(self._clock())
        self._group.create_task(self._turn(session, listening, state))

    # -- a turn: recognise, understand, answer ------------------------------------------------------
    async def _turn(self, session: Session, listening: Listening, state: VadState) -> None:
        last_frame_at = listening.last_frame_at
        if state is VadState.TOO_LONG:
            stop(listening)
            await release(listening, self._pool)
            error = f"utterance longer than {self.settings.endpoint.max_utterance_s:g} s"
            self.out.error("asr", error, session.site_id, session.session_id)
            self._end(session, TerminationReason.ERROR, error)
            return
        if state is VadState.NO_SPEECH or not listening.heard_speech:
            stop(listening)
            await release(listening, self._pool)
            self._text_captured(session, Transcript("", 0.0, listening.audio_s, 0.0))
            self._end(session, TerminationReason.TIMEOUT, "nobody spoke")
            return
        loop = asyncio.get_running_loop()
        kit = self.kit(session.lang)
        try:
            passes = self.settings.guard.passes()
            transcript, match = await understand(kit, listening, self._pool, session.intent_filter, self.settings.min_confidence, passes)
            if session.phase is not Phase.RECOGNISING:
                return  # ended meanwhile (barge-in, timeout)
            self._text_captured(session, transcript)
            if not session.own:
                self._end(session, TerminationReason.NOMINAL)  # announced only for our own sessions
            else:
                await self._answers.answer(kit, session, transcript, match, last_frame_at)
        finally:
            # After the answer: closing prepares the recogniser for the next turn (PocketSphinx
            # builds a fresh decoder), which must not delay this one.
            if listening.recogniser is not None:
                await loop.run_in_executor(self._pool, listening.recogniser.close)
            if self._capture is not None and listening.capture:
                await loop.run_in_executor(self._pool, self._capture.save, session.site_id, b"".join(listening.capture))

    def _text_captured(self, session: Session, transcript: Transcript) -> None:
        self.intents.text_captured(transcript, session.site_id, session.session_id, session.lang)

    # -- NLU as a service (hermes/nlu/query) ---------------------------------------------------------
    def nlu_query(self, query: NluQuery) -> None:
        lang = self.settings.language_of(query.siteId)
        self.intents.answer_query(query, self.kit(lang).matcher, lang, self.settings.guard)
