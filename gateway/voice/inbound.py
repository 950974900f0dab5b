"""Hermes messages from MQTT into the voice service: parsed into their models; what does not
parse becomes a dead letter (reason invalid_hermes) and a Hermes error, never an exception.

Audio frames are QoS 0 and never stored: a malformed frame gets a Hermes error only (its bytes
are audio, which must not be written anywhere)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from gateway.hermes import topics
from gateway.hermes.asr import AsrStartListening, AsrStopListening
from gateway.hermes.audioserver import AudioFrame
from gateway.hermes.base import HermesMessage, HermesParseError
from gateway.hermes.dialogue import DialogueContinueSession, DialogueEndSession, DialogueStartSession
from gateway.hermes.hotword import HotwordDetected
from gateway.hermes.nlu import NluQuery
from gateway.model.deadletter import DeadLetterReason
from gateway.model.inbound import InboundMessage
from gateway.part import RouteSpec
from gateway.ports import DeadLetterSink
from gateway.retained_commands import refuse_if_retained
from gateway.voice.outbound import HermesOut
from gateway.voice.service import VoiceService

M = TypeVar("M", bound=HermesMessage)


class HermesInbound:
    def __init__(self, service: VoiceService, out: HermesOut, ack: Callable[[InboundMessage], None], dead_letter: DeadLetterSink) -> None:
        self._service = service
        self._out = out
        self._ack = ack
        self._dead_letter = dead_letter

    def routes(self) -> list[RouteSpec]:
        s = self._service
        control: list[tuple[str, type[HermesMessage], Callable[[HermesMessage], object], str]] = [
            (topics.DM_START_SESSION, DialogueStartSession, s.start_session, "dialogueManager"),  # type: ignore[list-item]
            (topics.DM_CONTINUE_SESSION, DialogueContinueSession, s.continue_session, "dialogueManager"),  # type: ignore[list-item]
            (topics.DM_END_SESSION, DialogueEndSession, s.end_session, "dialogueManager"),  # type: ignore[list-item]
            (topics.ASR_START_LISTENING, AsrStartListening, s.start_listening, "asr"),  # type: ignore[list-item]
            (topics.ASR_STOP_LISTENING, AsrStopListening, s.stop_listening, "asr"),  # type: ignore[list-item]
            (topics.NLU_QUERY, NluQuery, s.nlu_query, "nlu"),  # type: ignore[list-item]
            (topics.HOTWORD_DETECTED_SUBSCRIPTION, HotwordDetected, s.hotword_detected, "dialogueManager"),  # type: ignore[list-item]
        ]
        return [RouteSpec(subscription, self._control(model, handler, component)) for subscription, model, handler, component in control] + [
            RouteSpec(topics.AUDIO_FRAME_SUBSCRIPTION, self.on_audio, qos=0, auto_ack=True),
            RouteSpec(topics.AUDIO_SESSION_FRAME_SUBSCRIPTION, self.on_audio, qos=0, auto_ack=True),
        ]

    def _control(self, model: type[M], handler: Callable[[M], object], component: str) -> Callable[[InboundMessage], None]:
        def on_message(message: InboundMessage) -> None:
            if refuse_if_retained(message, self._dead_letter):
                return
            try:
                parsed = model.from_json(message.payload)
            except HermesParseError as exc:
                self._out.error(component, f"invalid message on {message.topic}: {exc}", "default")
                self._dead_letter(message, DeadLetterReason.INVALID_HERMES, str(exc))  # acked once stored
                return
            self._ack(message)
            handler(parsed)

        return on_message

    def on_audio(self, message: InboundMessage) -> None:
        frame = AudioFrame.from_message(message.topic, message.payload)
        if frame is not None:
            self._service.audio_frame(frame)
