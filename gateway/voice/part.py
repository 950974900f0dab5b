"""The voice part: skills and grammar compiled, the engine loaded once (off the event loop),
Hermes routes, identity from committed `identify` events, and the service task.

One recogniser, intent model and skill set per language a site speaks (`voice.sites`). Replies
are spoken through the TTS part in-process (its speaker port), or by another Hermes TTS service
over the broker when the gateway's own is off.

Ports it offers: the dialogue core to other transports (SITE_AUDIO) and one-shot speech
services (SPEECH_SERVICES), gateway/voice/transport.py. Ports it uses when offered: the consent lookup (profiles) and customer records (the privacy
skill's erasure and export), the rules' intent sink (every recognised intent), the TTS part's
phrasebook (REPLY_TEMPLATES: the skills' and its own reply templates, made ahead). Metrics get every
turn. The module is cheap to import: numpy and the recognisers are loaded by `build`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from gateway.config.problems import ConfigError, ConfigProblem
from gateway.model.gate import ConsentLookup, NoConsents
from gateway.part import Built, Core, PartBase, RouteSpec
from gateway.ports import (
    CONSENT_LOOKUP, CUSTOMER_RECORDS, INTENT_SINK, REPLY_TEMPLATES, SITE_AUDIO, SPEAKER, SPEECH_SERVICES, Ports,
)

if TYPE_CHECKING:
    from gateway.config.settings import Settings
    from gateway.voice.engines.base import AsrEngine, Transcript
    from gateway.voice.nlu.match import IntentMatch
    from gateway.voice.service import VoiceService
    from gateway.voice.session import Session
    from gateway.voice.settings import VoiceSettings
    from gateway.voice.skillset import IntentModel
    from skills.api import ShopData

log = logging.getLogger(__name__)


class VoicePart(PartBase):
    name = "voice"
    section = "voice"
    uses = (CONSENT_LOOKUP, CUSTOMER_RECORDS, INTENT_SINK, SPEAKER, REPLY_TEMPLATES)
    provides = (SITE_AUDIO, SPEECH_SERVICES)

    def check(self, settings: Settings) -> list[ConfigProblem]:
        if not settings.voice.enabled:
            return []
        from gateway.voice.check import check_voice

        return check_voice(settings)

    async def build(self, core: Core, ports: Ports) -> Built:
        from gateway.hermes.tts import TTS_ERROR, TTS_SAY_FINISHED
        from gateway.voice.engines.factory import dictation_for
        from gateway.voice.effects import is_noisy
        from gateway.voice.identity import IdentityBindings
        from gateway.voice.inbound import HermesInbound
        from gateway.voice.language import LanguageKit
        from gateway.voice.outbound import HermesOut
        from gateway.voice.privacy import RecordsPrivacy, StorePrivacy
        from gateway.voice.profiles import Profiles
        from gateway.voice.service import VoiceService
        from gateway.voice.skillrunner import SkillRunner
        from gateway.ports import ReplySpeaker
        from gateway.voice.speech import InProcessSpeaker, MqttSpeaker, SiteRoutedSpeaker
        from gateway.voice.transport import SiteAudioSeam, SpeechServicesSeam
        from skills.api import PrivacyActions

        settings = core.settings.voice
        pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="asr")
        try:
            loaded = await _load_languages(settings, pool)
        except ConfigError:
            pool.shutdown(wait=False)
            raise
        identity = IdentityBindings(settings.identity_ttl_s, time.time)
        consents: ConsentLookup = ports.optional(CONSENT_LOOKUP) or NoConsents()
        records = ports.optional(CUSTOMER_RECORDS)
        privacy: PrivacyActions
        if records is not None:
            privacy = RecordsPrivacy(records, identity.forget_customer)
        else:
            privacy = StorePrivacy(core.store)
        profiles = Profiles(core.store, consents)
        kits = {
            language: LanguageKit(language, engine, model.matcher, SkillRunner(model.handlers, shop, privacy, profiles), dictation_for(settings, language))
            for language, (model, shop, engine) in loaded.items()
        }

        def publish(topic: str, payload: bytes) -> None:
            core.publish(topic, payload, qos=1)

        out = HermesOut(publish)
        routes: list[RouteSpec] = []
        speaker: ReplySpeaker
        tts = ports.optional(SPEAKER)
        if tts is not None:
            speaker = InProcessSpeaker(tts, publish)
        else:  # another Hermes TTS service speaks: follow its sayFinished and errors on the broker
            mqtt_speaker = MqttSpeaker(publish, settings.say_timeout_s)
            routes.append(RouteSpec(TTS_SAY_FINISHED, mqtt_speaker.on_say_finished, qos=1, auto_ack=True))
            routes.append(RouteSpec(TTS_ERROR, mqtt_speaker.on_tts_error, qos=1, auto_ack=True))
            speaker = mqtt_speaker
        templates = ports.optional(REPLY_TEMPLATES)
        if templates is not None:  # the TTS part makes their fixed words ahead (docs/tts.md)
            from gateway.voice.reply_texts import all_reply_templates

            for language, template in all_reply_templates(settings.skills):
                templates.add_template(language, template)
        routed = SiteRoutedSpeaker(speaker)  # other transports' sites join through SITE_AUDIO
        service = VoiceService(settings, kits, identity, out, publish, pool, routed)
        intents = ports.optional(INTENT_SINK)
        metrics = core.metrics

        def to_rules(session: Session, match: IntentMatch) -> None:
            if intents is not None:
                intents.on_intent(session.site_id, match.intent, {s.name: s.value for s in match.slots}, session.customer_id)

        def to_metrics(session: Session, transcript: Transcript, match: IntentMatch | None, latency_s: float) -> None:
            metrics.voice_turn(
                latency_s, transcript.rtf, text=transcript.text, intent=match.intent if match else None, site=session.site_id,
                noisy=is_noisy(settings.guard, transcript.snr_db),
            )

        service.on_intent.append(to_rules)
        service.on_turn.append(to_metrics)
        # Acknowledged (and the PUBACK written) before acted on: Hermes control is at most once, so a
        # message that kills the process is not redelivered into a crash loop.
        routes.extend(HermesInbound(service, out, core.mqtt.ack_now, core.dead_letter).routes())
        return Built(
            routes=routes, on_committed=[identity.on_committed], tasks=[_run(service, pool)], service=service,
            offers={SITE_AUDIO: SiteAudioSeam(service, routed), SPEECH_SERVICES: SpeechServicesSeam(service)},
        )


PART = VoicePart()


async def _load_languages(settings: VoiceSettings, pool: ThreadPoolExecutor) -> dict[str, tuple[IntentModel, ShopData, AsrEngine]]:
    """Sentences compiled and the recogniser loaded (off the event loop) for every language a
    site speaks; ConfigError with every problem."""
    from gateway.voice.engines.base import EngineError
    from gateway.voice.engines.factory import load_engine
    from gateway.voice.skillset import SkillSetError, build_intent_model

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
