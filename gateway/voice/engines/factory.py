"""Choosing and loading the configured engine (blocking: call it off the event loop)."""

from __future__ import annotations

from gateway.voice.engines.base import AsrEngine, EngineError
from gateway.voice.nlu.expand import GrammarSource, prune_grammar
from gateway.voice.settings import VoiceSettings
from gateway.voice.skillset import IntentModel


def grammar_source(model: IntentModel) -> GrammarSource:
    return prune_grammar(model.templates, model.rules, model.lists, lambda word: True)


def load_engine(settings: VoiceSettings, model: IntentModel) -> AsrEngine:
    source = grammar_source(model)
    if settings.engine_name == "vosk":
        from gateway.voice.engines.vosk_engine import VoskEngine

        assert settings.vosk_model_dir is not None  # the settings validator guarantees it
        return VoskEngine(settings.vosk_model_dir, source, settings.dictation)
    if model.language != "en":
        raise EngineError(f"PocketSphinx carries an English model only; language {model.language!r} needs a Vosk model")
    from gateway.voice.engines.pocketsphinx_engine import PocketSphinxEngine

    return PocketSphinxEngine(source, settings.pocketsphinx, settings.dictation)
