"""The TTS part's engines: one per language a site speaks, started (Piper models loaded) before
the gateway takes messages."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.config.problems import ConfigError, ConfigProblem
from gateway.tts.engine import SynthesisError, TtsEngine
from gateway.tts.espeak import EspeakEngine
from gateway.tts.piper import PiperEngine
from gateway.tts.settings import TtsSettings, espeak_voice_name, languages_spoken

_SOURCE = "<settings>"


def make_engines(settings: TtsSettings, site_languages: Iterable[str] = ()) -> dict[str, TtsEngine]:
    """One engine per language: the configured voice, or espeak-ng's own voice for it."""
    engines: dict[str, TtsEngine] = {}
    for language in languages_spoken(settings, site_languages):
        voice = settings.voice(language)
        if voice.engine == "piper":
            assert voice.piper_model is not None  # guaranteed by VoiceSettings' validator
            engines[language] = PiperEngine(
                voice.piper_model, voice.piper_config, voice.piper_length_scale, settings.synthesis_timeout_s,
                threads=voice.piper_threads,
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
