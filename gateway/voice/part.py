"""The voice part's builder: skills and grammar compiled, the engine loaded once (off the event
loop), Hermes routes, identity from committed `identify` events, and the service task.

One recogniser, intent model and skill set per language a site speaks (`voice.sites`). Replies
are spoken through the TTS part in-process (`runtime.tts`), or by another Hermes TTS service over
the broker when the gateway's own is off.

Wiring to other parts, each optional: the consent part (`runtime.consents`) supplies consent
checks for profiles and the erasure/export behind the privacy skill; the rules part
(`runtime.rules`) gets every recognised intent; metrics get every turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from gateway.config.problems import ConfigError, ConfigProblem
from gateway.model.gate import ConsentLookup, NoConsents
from gateway.hermes.tts import TTS_ERROR, TTS_SAY_FINISHED
from gateway.voice.engines.base import AsrEngine, EngineError, Transcript
from gateway.voice.engines.factory import dictation_for, load_engine
from gateway.voice.identity import IdentityBindings
from gateway.voice.inbound import HermesInbound
from gateway.voice.language import LanguageKit
from gateway.voice.nlu.match import IntentMatch
from gateway.voice.outbound import HermesOut
from gateway.voice.privacy import ConsentPrivacy, StorePrivacy
from gateway.voice.profiles import Profiles
from gateway.voice.service import VoiceService
from gateway.voice.session import Session
from gateway.voice.skillrunner import SkillRunner
from gateway.voice.settings import VoiceSettings
from gateway.voice.skillset import IntentModel, SkillSetError, build_intent_model
from gateway.voice.speech import InProcessSpeaker, MqttSpeaker, ReplySpeaker
from skills.api import PrivacyActions, ShopData

if TYPE_CHECKING:
    from gateway.app import Runtime

log = logging.getLogger(__name__)


class _ServiceConsents:
    """The consent service's `allows` as the ConsentLookup protocol (its `at` is optional)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def allows(self, customer_id: str, purpose: str, at: float) -> bool:
        consents = self._runtime.consents
        return consents is not None and consents.allows(customer_id, purpose, at)


async def build(runtime: Runtime) -> None:
    settings = runtime.settings.voice
    if not settings.enabled:
        return
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="asr")
    try:
        loaded = await _load_languages(settings, pool)
    except ConfigError:
        pool.shutdown(wait=False)
        raise
    identity = IdentityBindings(settings.identity_ttl_s, time.time)
    runtime.ingest.on_committed.append(identity.on_committed)
    consents: ConsentLookup = _ServiceConsents(runtime) if runtime.consents is not None else NoConsents()
    privacy: PrivacyActions
    if runtime.consents is not None:
        privacy = ConsentPrivacy(runtime.consents, identity.forget_customer)
    else:
        privacy = StorePrivacy(runtime.store)
    profiles = Profiles(runtime.store, consents)
    kits = {
        language: LanguageKit(language, engine, model.matcher, SkillRunner(model.handlers, shop, privacy, profiles), dictation_for(settings, language))
        for language, (model, shop, engine) in loaded.items()
    }

    def publish(topic: str, payload: bytes) -> None:
        runtime.mqtt.publish(topic, payload, qos=1)

    out = HermesOut(publish)
    speaker: ReplySpeaker
    if runtime.tts is not None:
        speaker = InProcessSpeaker(runtime.tts, publish)
    else:  # another Hermes TTS service speaks: follow its sayFinished and errors on the broker
        mqtt_speaker = MqttSpeaker(publish, settings.say_timeout_s)
        runtime.mqtt.route(TTS_SAY_FINISHED, mqtt_speaker.on_say_finished, qos=1, auto_ack=True)
        runtime.mqtt.route(TTS_ERROR, mqtt_speaker.on_tts_error, qos=1, auto_ack=True)
        speaker = mqtt_speaker
    service = VoiceService(settings, kits, identity, out, publish, pool, speaker)

    def to_rules(session: Session, match: IntentMatch) -> None:
        if runtime.rules is not None:
            runtime.rules.on_intent(session.site_id, match.intent, {s.name: s.value for s in match.slots}, session.customer_id)

    def to_metrics(session: Session, transcript: Transcript, match: IntentMatch | None, latency_s: float) -> None:
        runtime.metrics.voice_turn(
            latency_s, transcript.rtf, text=transcript.text, intent=match.intent if match else None, site=session.site_id
        )

    service.on_intent.append(to_rules)
    service.on_turn.append(to_metrics)
    HermesInbound(service, out, runtime.mqtt.ack, runtime.ingest.submit_dead_letter).register(runtime.mqtt)
    runtime.voice = service
    runtime.tasks.append(_run(service, pool))


async def _load_languages(settings: VoiceSettings, pool: ThreadPoolExecutor) -> dict[str, tuple[IntentModel, ShopData, AsrEngine]]:
    """Sentences compiled and the recogniser loaded (off the event loop) for every language a
    site speaks; ConfigError with every problem."""
    loop = asyncio.get_running_loop()
    loaded: dict[str, tuple[IntentModel, ShopData, AsrEngine]] = {}
    for language in settings.languages():
        field = "voice.language" if language == settings.language else "voice.sites"
        try:
            model, shop = build_intent_model(settings, language)
            engine = await loop.run_in_executor(pool, load_engine, settings, model)
        except SkillSetError as exc:
            raise ConfigError(exc.problems) from exc
        except EngineError as exc:
            raise ConfigError([ConfigProblem(file="<settings>", field=field, message=str(exc))]) from exc
        if engine.unknown_words:
            log.warning("%s (%s) cannot say these words; sentences using them are left out: %s", engine.name, language, sorted(engine.unknown_words))
        loaded[language] = (model, shop, engine)
    return loaded


async def _run(service: VoiceService, pool: ThreadPoolExecutor) -> None:
    try:
        await service.run()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
