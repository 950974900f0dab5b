"""Plugs the TTS service into the gateway (`PART_BUILDERS`) and checks its configuration
(`PART_CHECKS`)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from typing import TYPE_CHECKING

from gateway.config.problems import ConfigError, ConfigProblem
from gateway.config.settings import Settings
from gateway.hermes.playback import PLAY_FINISHED_SUBSCRIPTION
from gateway.hermes.tts import TTS_SAY
from gateway.tts.cache import ReplyCache
from gateway.tts.engine import SynthesisError, TtsEngine
from gateway.tts.espeak import EspeakEngine
from gateway.tts.piper import PiperEngine
from gateway.tts.service import TtsService
from gateway.tts.settings import DEFAULT_ESPEAK_VOICES, TtsSettings, espeak_voice_name
from gateway.tts.synthesiser import Synthesiser

if TYPE_CHECKING:
    from gateway.app import Runtime

_SOURCE = "<settings>"


def languages_spoken(settings: TtsSettings, site_languages: Iterable[str] = ()) -> list[str]:
    """English and German always; any other language a site is set to (voice.sites) too."""
    return sorted(set(DEFAULT_ESPEAK_VOICES) | set(settings.voices) | set(site_languages))


def make_engines(settings: TtsSettings, site_languages: Iterable[str] = ()) -> dict[str, TtsEngine]:
    """One engine per language: the configured voice, or espeak-ng's own voice for it."""
    engines: dict[str, TtsEngine] = {}
    for language in languages_spoken(settings, site_languages):
        voice = settings.voice(language)
        if voice.engine == "piper":
            assert voice.piper_model is not None  # guaranteed by VoiceSettings' validator
            engines[language] = PiperEngine(
                voice.piper_model, voice.piper_config, voice.piper_length_scale, settings.synthesis_timeout_s
            )
        else:
            engines[language] = EspeakEngine(
                espeak_voice_name(language, voice), voice.rate_wpm, voice.pitch, settings.espeak_ng_path,
                settings.synthesis_timeout_s,
            )
    return engines


async def start_engines(settings: TtsSettings, site_languages: Iterable[str] = ()) -> dict[str, TtsEngine]:
    """Engines ready to speak (Piper models loaded), or ConfigError naming each voice that is not."""
    engines = make_engines(settings, site_languages)
    problems: list[ConfigProblem] = []
    for language, engine in engines.items():
        try:
            await engine.start()
        except SynthesisError as exc:
            problems.append(ConfigProblem(file=_SOURCE, field=f"tts.voices.{language}", message=str(exc)))
    if problems:
        raise ConfigError(problems)
    return engines


async def build(runtime: Runtime) -> None:
    settings = runtime.settings.tts
    if not settings.enabled:
        return
    voice = runtime.settings.voice  # the sites' languages: one mapping for every part
    engines = await start_engines(settings, voice.languages())
    synthesiser = Synthesiser(settings, engines, ReplyCache(settings.cache_entries, settings.cache_max_bytes), voice.language_of)
    mqtt = runtime.mqtt
    service = TtsService(
        settings, synthesiser,
        lambda topic, payload, qos: mqtt.publish(topic, payload, qos=qos),
        runtime.ingest.submit_dead_letter,
    )
    # QoS 0: a reply queued by the broker while the gateway was down would be spoken late, out of
    # its conversation; better not at all. The dialogue manager times out and says so.
    mqtt.route(TTS_SAY, service.on_say, qos=0, auto_ack=True)
    mqtt.route(PLAY_FINISHED_SUBSCRIPTION, service.on_play_finished, qos=0, auto_ack=True)
    runtime.tts = service  # the dialogue manager speaks through it in-process
    runtime.tasks.append(service.run())


def check(settings: Settings) -> list[ConfigProblem]:
    """What `touchgate check` can tell without starting: espeak-ng and its voices installed,
    Piper voice files present and piper-tts importable."""
    tts = settings.tts
    if not tts.enabled:
        return []
    problems: list[ConfigProblem] = []
    languages = languages_spoken(tts, settings.voice.languages())
    espeak_voices = [(lang, espeak_voice_name(lang, tts.voice(lang))) for lang in languages if tts.voice(lang).engine == "espeak-ng"]
    if espeak_voices:
        binary = shutil.which(tts.espeak_ng_path)
        if binary is None:
            problems.append(ConfigProblem(file=_SOURCE, field="tts.espeak_ng_path", message=f"{tts.espeak_ng_path} not found: install the Debian package espeak-ng"))
        else:
            for language, name in espeak_voices:
                if not _espeak_has_voice(binary, name):
                    problems.append(ConfigProblem(file=_SOURCE, field=f"tts.voices.{language}.espeak_voice", message=f"espeak-ng has no voice {name!r} (see espeak-ng --voices)"))
    for language in languages:
        voice = tts.voice(language)
        if voice.engine != "piper" or voice.piper_model is None:
            continue
        config = voice.piper_config or voice.piper_model.with_name(voice.piper_model.name + ".json")
        for field, path in (("piper_model", voice.piper_model), ("piper_config", config)):
            if not path.is_file():
                problems.append(ConfigProblem(file=str(path), field=f"tts.voices.{language}.{field}", message="file does not exist"))
        try:
            import piper  # noqa: F401  (only whether it is installed)
        except ImportError:
            problems.append(ConfigProblem(file=_SOURCE, field=f"tts.voices.{language}.engine", message="piper-tts is not installed (pip install piper-tts)"))
    return problems


def _espeak_has_voice(binary: str, name: str) -> bool:
    """espeak-ng exits non-zero for a voice it does not know; `-q` speaks nothing."""
    result = subprocess.run([binary, "-q", "-v", name, "ok"], capture_output=True, timeout=10, check=False)
    return result.returncode == 0
