"""Choosing and loading the engine for each language (blocking: call it off the event loop).

A language with a Vosk model (`voice.vosk_models`, or `voice.vosk_model_dir` for `voice.language`)
is recognised by Vosk unless `voice.engine` is pocketsphinx; English without one falls back to
PocketSphinx, whose wheel carries an English model. Any other language without a model is a
configuration error naming the site that needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from gateway.voice.engines.base import AsrEngine, EngineError
from gateway.voice.nlu.expand import GrammarSource, prune_grammar
from gateway.voice.nlu.match import Matcher
from gateway.voice.settings import VoiceSettings
from gateway.voice.skillset import IntentModel


def grammar_source(model: IntentModel) -> GrammarSource:
    return prune_grammar(model.templates, model.rules, model.lists, lambda word: True)


def needs_agreement(matcher: Matcher) -> Callable[[str], bool]:
    """Which grammar-pass sentences the open pass must check even when the grammar pass is sure:
    those of effectful intents (understand.py acts on them only where both passes heard them),
    and any the matcher does not take whole."""

    def check(sentence: str) -> bool:
        match = matcher.match(sentence)
        return match is None or match.intent in matcher.effectful

    return check


def engine_for(settings: VoiceSettings, language: str) -> tuple[Literal["pocketsphinx", "vosk"], Path | None]:
    """Which engine recognises `language`, and its Vosk model; EngineError if none can."""
    model_dir = settings.vosk_model_for(language)
    if model_dir is not None and settings.engine != "pocketsphinx":
        return "vosk", model_dir
    if language == "en" and settings.engine != "vosk":
        return "pocketsphinx", None
    sites = sorted(site for site, s in settings.sites.items() if s.language == language)
    where = f" (sites {', '.join(sites)})" if sites else ""
    raise EngineError(
        f"no recogniser for language {language!r}{where}: PocketSphinx carries an English model only; "
        f"give a Vosk model in voice.vosk_models.{language}"
    )


def dictation_for(settings: VoiceSettings, language: str) -> bool:
    """Open dictation as fallback: as configured, else on for Vosk and off for PocketSphinx."""
    if settings.dictation_fallback is not None:
        return settings.dictation_fallback
    return engine_for(settings, language)[0] == "vosk"


def load_engine(settings: VoiceSettings, model: IntentModel) -> AsrEngine:
    source = grammar_source(model)
    kind, model_dir = engine_for(settings, model.language)
    dictation = dictation_for(settings, model.language)
    if kind == "vosk":
        from gateway.voice.engines.vosk_engine import VoskEngine

        assert model_dir is not None
        return VoskEngine(model_dir, source, dictation)
    from gateway.voice.engines.pocketsphinx_engine import PocketSphinxEngine

    return PocketSphinxEngine(source, settings.pocketsphinx, dictation, needs_agreement(model.matcher))
