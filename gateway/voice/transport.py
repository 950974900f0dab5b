"""The voice part's dialogue core and recogniser as ports (gateway/ports.py: SITE_AUDIO,
SPEECH_SERVICES), for transports other than Hermes. Hermes reaches the service over MQTT
(`inbound.py`); Wyoming satellites and Home Assistant reach it here, through the same sessions,
endpointing, recognition, skills, rules, identity and consent."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Executor

from gateway.hermes.asr import AsrStopListening
from gateway.hermes.dialogue import DialogueEndSession
from gateway.hermes.hotword import HotwordDetected
from gateway.ports import HandleResult, RecognisedIntent, ReplySpeaker
from gateway.voice.effects import NOT_UNDERSTOOD, EffectGuard, by_lang
from gateway.voice.engines.base import Transcript
from gateway.voice.nlu.match import IntentMatch
from gateway.voice.service import VoiceService
from gateway.voice.session import Phase, Session
from gateway.voice.skillrunner import SkillFailed
from gateway.voice.speech import SiteRoutedSpeaker
from gateway.voice.text_requests import PendingQuestions, read_text

log = logging.getLogger(__name__)


class SiteAudioSeam:
    """SITE_AUDIO: a site's wake, audio and end from any transport, and its replies routed."""

    def __init__(self, service: VoiceService, speaker: SiteRoutedSpeaker) -> None:
        self._service = service
        self._speaker = speaker

    def wake(self, site_id: str, wake_word: str) -> None:
        self._service.hotword_detected(HotwordDetected(siteId=site_id, modelId=wake_word))

    def audio(self, site_id: str, pcm: bytes) -> None:
        self._service.audio_pcm(site_id, pcm)

    def audio_ended(self, site_id: str) -> None:
        if self._service.sessions.at(site_id) is not None:
            self._service.stop_listening(AsrStopListening(siteId=site_id))

    def in_session(self, site_id: str) -> bool:
        return self._service.sessions.at(site_id) is not None

    def listening(self, site_id: str) -> bool:
        session = self._service.sessions.at(site_id)
        return session is not None and session.phase is Phase.LISTENING

    def end_session(self, site_id: str) -> None:
        session = self._service.sessions.at(site_id)
        if session is not None and session.own:
            self._service.end_session(DialogueEndSession(sessionId=session.session_id))

    def on_transcript(self, listener: Callable[[str, str], None]) -> None:
        def turn(session: Session, transcript: Transcript, match: IntentMatch | None, latency_s: float) -> None:
            listener(session.site_id, transcript.text)

        self._service.on_turn.append(turn)

    def speak_through(self, site_ids: Collection[str], speaker: ReplySpeaker) -> None:
        self._speaker.route(site_ids, speaker)


class SpeechServicesSeam:
    """SPEECH_SERVICES: transcribe, recognise and handle one request, outside the site table."""

    def __init__(self, service: VoiceService) -> None:
        self._service = service
        self._effects = EffectGuard(service.settings.guard)
        self._asked_back = PendingQuestions()

    @property
    def recogniser_name(self) -> str:
        return self._service.engine.name

    def languages(self) -> Sequence[str]:
        return sorted(self._service.kits)

    def language_for(self, site_id: str, requested: str | None) -> str:
        tag = (requested or "").replace("_", "-").split("-")[0].lower()
        return tag if tag in self._service.kits else self._service.settings.language_of(site_id)

    async def transcribe(self, pcm: bytes, language: str, pool: Executor) -> str:
        kit = self._service.kit(language)

        def decode() -> str:
            recogniser = kit.engine.recogniser()
            try:
                recogniser.accept(pcm)
                transcript = recogniser.finish()
            finally:
                recogniser.close()
            return transcript.text if transcript.confidence >= kit.engine.min_confidence else ""

        return await asyncio.get_running_loop().run_in_executor(pool, decode) if pcm else ""

    def recognise(self, text: str, language: str) -> RecognisedIntent | None:
        """Home Assistant's text (its own recogniser's, or typed), read as customers word it;
        only what the guard would act on is an intent: no one asks back on this path."""
        match = read_text(self._service.kit(language).matcher, text, None, self._service.settings.guard).acted_on
        if match is None:
            return None
        return RecognisedIntent(match.intent, {slot.name: slot.value for slot in match.slots}, match.text)

    async def handle(self, site_id: str, text: str, language: str, conversation: str | None = None) -> HandleResult:
        service = self._service
        kit = service.kit(language)
        asking = self._asked_back.answering(conversation)
        if conversation is not None and not asking:
            self._effects.forget(conversation)  # answered too late, or nothing asked: a request of its own
        match = kit.matcher.match_text(text, list(asking), service.settings.guard.max_skips) if asking else None
        if match is None:  # no question pending, or the answer is no yes, no or repeat: a request of its own
            match = kit.matcher.match_text(text, None, service.settings.guard.max_skips)
        if match is not None and match.confidence < service.settings.min_confidence:
            match = None
        # The effect guard as for a spoken turn (effects.py): an effectful intent not sure enough
        # is asked back, remembered under the conversation's id (or a fresh key the caller gets).
        key = conversation if conversation is not None else str(uuid.uuid4())
        match, instead = self._effects.check(key, language, match, kit.matcher)
        if instead is not None:
            if instead.intent_filter is None:  # the no to a question asked back
                return HandleResult(True, instead.say or "")
            self._asked_back.remember(key, instead.intent_filter)
            return HandleResult(True, instead.say or "", asked=key)
        if match is None or match.intent in kit.matcher.answers or not kit.skills.handles(match.intent):
            # (a yes or no that answers no question the guard still holds is no request)
            return HandleResult(False, by_lang(NOT_UNDERSTOOD, language))
        # A one-turn session of its own (not in the site table: the caller holds the conversation).
        # No customer: identity belongs to one voice session that a card tap bound (docs/privacy.md),
        # and this request is none, so it never answers with anyone's personal data.
        session = Session(site_id, str(uuid.uuid4()), True, time.time(), language, customer_id=None)
        for listener in service.on_intent:
            listener(session, match)
        try:
            reply = await kit.skills.run(session, match)
        except SkillFailed as exc:
            log.warning("skill failed for a one-turn request on %s: %s", site_id, exc)
            return HandleResult(False, kit.skills.apology(language))
        for notify in reply.notify:  # a staff call reaches the staff, as from a spoken turn
            service.notifier.send(session, notify)
        return HandleResult(True, reply.say or "")
