"""From a say request to the WAV bytes a site can play: language and voice, cache, conversion."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gateway.audio import AudioFormat, convert, write_wav
from gateway.hermes.base import language_tag
from gateway.tts.cache import CachedReply, ReplyCache, ReplyKey
from gateway.tts.engine import SynthesisError, TtsEngine
from gateway.tts.settings import TtsSettings


@dataclass(frozen=True, slots=True)
class Reply:
    wav: bytes
    duration_s: float
    engine: str
    language: str
    cached: bool
    synthesis_s: float


def normalise_text(text: str) -> str:
    """Whitespace runs become one space: the same words are the same reply (and cache entry)."""
    return " ".join(text.split())


class Synthesiser:
    def __init__(
        self, settings: TtsSettings, engines: Mapping[str, TtsEngine], cache: ReplyCache, language_of: Callable[[str], str]
    ) -> None:
        # language_of: the site's language, from the one mapping every part reads (voice.sites).
        self._settings = settings
        self._language_of = language_of
        self._engines = engines
        self.cache = cache

    def language_for(self, site_id: str, requested: str | None) -> str:
        """The request's language when we have a voice for it, else the site's."""
        tag = language_tag(requested)
        if tag is not None and tag in self._engines:
            return tag
        return self._language_of(site_id)

    async def reply(self, text: str, site_id: str, lang: str | None = None, volume: float | None = None) -> Reply:
        text = normalise_text(text)
        if not text:
            raise SynthesisError("nothing to say: the text is empty")
        if len(text) > self._settings.max_text_chars:
            raise SynthesisError(f"text of {len(text)} characters exceeds tts.max_text_chars ({self._settings.max_text_chars})")
        language = self.language_for(site_id, lang)
        engine = self._engines.get(language)
        if engine is None:
            raise SynthesisError(f"no voice for language {language!r}")
        wanted = self._settings.output_of(site_id)
        gain = None if volume is None or volume == 1.0 else round(volume, 3)
        # Rate 0 in the key stands for "the engine's own rate", which is fixed per voice.
        key = ReplyKey(engine.voice_key, text, AudioFormat(wanted.sample_rate or 0, wanted.sample_width, wanted.channels), gain)
        cached = self.cache.get(key)
        if cached is not None:
            return Reply(cached.wav, cached.duration_s, engine.name, language, True, 0.0)
        started = time.perf_counter()
        pcm = await engine.synthesize(text)
        out = convert(pcm, wanted.resolve(pcm.format), gain)
        wav = write_wav(out)
        self.cache.put(key, CachedReply(wav, out.duration_s))
        return Reply(wav, out.duration_s, engine.name, language, False, time.perf_counter() - started)

