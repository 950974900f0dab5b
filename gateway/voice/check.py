"""`touchgate check` for voice: for every language a site speaks, the skills' sentences, the shop's
data, a recogniser for it and (PocketSphinx) the words its dictionary cannot say – each problem
with file and line where there is one."""

from __future__ import annotations

from gateway.config.problems import ConfigProblem
from gateway.config.settings import Settings
from gateway.voice.engines.base import EngineError
from gateway.voice.engines.factory import engine_for
from gateway.voice.settings import VoiceSettings
from gateway.voice.skillset import SkillSetError, build_intent_model


def check_voice(settings: Settings) -> list[ConfigProblem]:
    voice = settings.voice
    if not voice.enabled:
        return []
    problems: list[ConfigProblem] = []
    for language in voice.languages():
        problems.extend(_check_language(voice, language))
    return problems


def _check_language(voice: VoiceSettings, language: str) -> list[ConfigProblem]:
    field = "voice.language" if language == voice.language else "voice.sites"
    try:
        model, _ = build_intent_model(voice, language)
        kind, model_dir = engine_for(voice, language)
    except SkillSetError as exc:
        return exc.problems
    except EngineError as exc:
        return [ConfigProblem(file="<settings>", field=field, message=str(exc))]
    if kind == "vosk":
        assert model_dir is not None
        if not model_dir.is_dir():
            return [ConfigProblem(file="<settings>", field=f"voice.vosk_models.{language}" if language in voice.vosk_models else "voice.vosk_model_dir", message=f"{model_dir} does not exist")]
        return []  # loading a Vosk model to check words costs hundreds of MB: the gateway logs them at start
    from gateway.voice.engines.factory import load_engine

    try:
        engine = load_engine(voice, model)
    except EngineError as exc:
        return [ConfigProblem(file="<settings>", field=field, message=str(exc))]
    return [
        ConfigProblem(
            file=str(voice.catalogue), field="voice", message=f"PocketSphinx's dictionary has no {word!r}: sentences with it cannot be recognised"
        )
        for word in sorted(engine.unknown_words)
    ]
