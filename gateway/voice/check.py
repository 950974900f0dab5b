"""`touchgate check` for voice: the skills' sentences, the shop's data, and (PocketSphinx) the
words its dictionary cannot say – each problem with file and line where there is one."""

from __future__ import annotations

from gateway.config.problems import ConfigProblem
from gateway.config.settings import Settings
from gateway.voice.engines.base import EngineError
from gateway.voice.skillset import SkillSetError, build_intent_model


def check_voice(settings: Settings) -> list[ConfigProblem]:
    voice = settings.voice
    if not voice.enabled:
        return []
    try:
        model, _ = build_intent_model(voice)
    except SkillSetError as exc:
        return exc.problems
    if voice.engine_name == "vosk":
        assert voice.vosk_model_dir is not None
        if not voice.vosk_model_dir.is_dir():
            return [ConfigProblem(file="<settings>", field="voice.vosk_model_dir", message=f"{voice.vosk_model_dir} does not exist")]
        return []  # loading a Vosk model to check words costs hundreds of MB: the gateway logs them at start
    from gateway.voice.engines.factory import load_engine

    try:
        engine = load_engine(voice, model)
    except EngineError as exc:
        return [ConfigProblem(file="<settings>", field="voice.engine", message=str(exc))]
    return [
        ConfigProblem(
            file=str(voice.catalogue), field="voice", message=f"PocketSphinx's dictionary has no {word!r}: sentences with it cannot be recognised"
        )
        for word in sorted(engine.unknown_words)
    ]
