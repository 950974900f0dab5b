"""Publishing what ASR and NLU found: `hermes/asr/textCaptured`, `hermes/intent/<name>` with slots
and their character ranges, or `hermes/nlu/intentNotRecognized`."""

from __future__ import annotations

import logging

from gateway.hermes.asr import AsrTextCaptured
from gateway.hermes.intent import Intent, NluIntent, Slot, SlotRange
from gateway.hermes.nlu import NluIntentNotRecognized, NluQuery
from gateway.voice.engines.base import Transcript
from gateway.voice.nlu.match import IntentMatch, Matcher, char_range
from gateway.voice.outbound import HermesOut
from gateway.voice.settings import GuardSettings
from gateway.voice.text_requests import read_text

log = logging.getLogger(__name__)


class IntentOut:
    def __init__(self, out: HermesOut) -> None:
        self._out = out

    def text_captured(self, transcript: Transcript, site_id: str, session_id: str, lang: str) -> None:
        message = AsrTextCaptured(
            text=transcript.text, likelihood=transcript.confidence, seconds=round(transcript.audio_s, 3),
            siteId=site_id, sessionId=session_id, lang=lang,
        )
        self._out.send(message.topic(), message)

    def not_recognised(
        self, text: str, site_id: str, session_id: str | None, custom_data: str | None, request_id: str | None = None
    ) -> None:
        message = NluIntentNotRecognized(input=text, id=request_id, siteId=site_id, sessionId=session_id, customData=custom_data)
        self._out.send(message.topic(), message)

    def intent(
        self, match: IntentMatch, site_id: str, session_id: str | None, custom_data: str | None,
        asr_confidence: float | None, lang: str, request_id: str | None = None,
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
            asrConfidence=asr_confidence, lang=lang,
        )
        self._out.send(message.topic(), message)

    def answer_query(self, query: NluQuery, matcher: Matcher, lang: str, guard: GuardSettings) -> None:
        """hermes/nlu/query: NLU as a service for another dialogue manager, whose recogniser (or
        keyboard) wrote the text: read as customers word it (text_requests.py). Only what the
        guard would act on is published as an intent; the rest, an effectful intent not sure
        enough among it, is `intentNotRecognized` (Rhasspy's answer for text it cannot use: the
        asker's dialogue manager cannot be asked back by us, and must not act on it)."""
        reading = read_text(matcher, query.input, query.intentFilter, guard)
        if reading.acted_on is None:
            if reading.match is not None:
                log.info("nlu/query %s: %s not published (%s)", query.id, reading.match.intent, reading.reason)
            self.not_recognised(query.input, query.siteId, query.sessionId, None, query.id)
        else:
            self.intent(reading.acted_on, query.siteId, query.sessionId, None, query.asrConfidence, lang, query.id)
