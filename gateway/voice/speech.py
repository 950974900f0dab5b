"""How the dialogue manager gets its replies spoken, and learns that they were.

- `InProcessSpeaker`: the gateway's own TTS service (the SPEAKER port): `submit()` resolves to
  played / timeout / failed once `sayFinished` has gone out. The say is also published on
  `hermes/tts/say` for observers (displays, logs, Rhasspy tools); the TTS service recognises its
  copy by id and does not speak it twice.
- `MqttSpeaker`: another Hermes TTS service on the broker (`tts.enabled: false`): publish the say
  with an id, wait for `sayFinished` with that id; a `hermes/error/tts` for the same site and
  session before it means the reply was not (confirmed) played.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from typing import Protocol

from pydantic import ValidationError

from gateway.hermes.tts import TTS_SAY, SayOutcome, TtsError, TtsSay, TtsSayFinished
from gateway.model.inbound import InboundMessage
from gateway.ports import ReplySpeaker
from gateway.waiting import within

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], None]


class SiteRoutedSpeaker:
    """The dialogue manager's speaker: replies to sites another transport took (`SiteAudio.
    speak_through`, e.g. Wyoming satellites) go to that transport's speaker, the rest to the
    voice part's own (the TTS part, or a Hermes TTS service over the broker)."""

    def __init__(self, default: ReplySpeaker) -> None:
        self._default = default
        self._routes: dict[str, ReplySpeaker] = {}

    def route(self, site_ids: Collection[str], speaker: ReplySpeaker) -> None:
        taken = sorted(site for site in site_ids if site in self._routes)
        if taken:
            raise ValueError(f"sites already spoken to by another transport: {', '.join(taken)}")
        self._routes.update(dict.fromkeys(site_ids, speaker))

    async def speak(self, say: TtsSay) -> SayOutcome:
        return await self._routes.get(say.siteId, self._default).speak(say)


class TtsSubmit(Protocol):
    def submit(self, say: TtsSay, received_at: float | None = None, published: bool = False) -> asyncio.Future[SayOutcome]: ...


class InProcessSpeaker:
    def __init__(self, tts: TtsSubmit, publish: Publish) -> None:
        self._tts = tts
        self._publish = publish

    async def speak(self, say: TtsSay) -> SayOutcome:
        done = self._tts.submit(say, published=True)
        self._publish(TTS_SAY, say.to_json())
        return await done


class MqttSpeaker:
    def __init__(self, publish: Publish, timeout_s: float) -> None:
        self._publish = publish
        self._timeout_s = timeout_s
        self._waiting: dict[str, tuple[TtsSay, asyncio.Future[SayOutcome]]] = {}
        self._errors: dict[str, str] = {}  # request id → the TTS service's error for it

    async def speak(self, say: TtsSay) -> SayOutcome:
        assert say.id is not None, "the dialogue manager gives every say an id"
        done: asyncio.Future[SayOutcome] = asyncio.get_running_loop().create_future()
        self._waiting[say.id] = (say, done)
        try:
            self._publish(TTS_SAY, say.to_json())
            return await within(done, self._timeout_s)
        except TimeoutError:
            log.warning("no sayFinished for %s on %s within %.1fs", say.id, say.siteId, self._timeout_s)
            return SayOutcome.TIMEOUT
        finally:
            self._waiting.pop(say.id, None)
            self._errors.pop(say.id, None)

    # -- MQTT handlers (auto-acked routes, QoS 0 and 1 alike) ------------------------------------
    def on_say_finished(self, message: InboundMessage) -> None:
        try:
            finished = TtsSayFinished.model_validate_json(message.payload)
        except ValidationError:
            log.debug("unreadable sayFinished ignored")
            return
        waiting = self._waiting.get(finished.id or "")
        if waiting is None or waiting[1].done():
            return  # someone else's say
        error = self._errors.get(finished.id or "")
        if error is None:
            waiting[1].set_result(SayOutcome.PLAYED)
        else:
            waiting[1].set_result(SayOutcome.TIMEOUT if error.startswith("no playFinished") else SayOutcome.FAILED)

    def on_tts_error(self, message: InboundMessage) -> None:
        try:
            error = TtsError.model_validate_json(message.payload)
        except ValidationError:
            return
        for request_id, (say, _) in self._waiting.items():
            if say.siteId == error.siteId and say.sessionId == error.sessionId and error.sessionId is not None:
                self._errors[request_id] = error.error
