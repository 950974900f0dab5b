"""From a say request to the WAV bytes a site can play: language and voice, cache, conversion.

`stream` hands a reply out in parts as the engine produces them (Piper: a sentence each), each
converted to the site's format and ready to play; `reply` is the same joined into one. A reply
that was streamed to its end is cached whole, and a cached reply comes back as one part.

A reply that starts with a known opener (gateway/tts/phrasebook.py: the fixed text before a
skill template's first slot, or a fixed reply) is said in two steps: the opener, made ahead at
start (gateway/tts/prepare.py) and so a cache hit, then the rest, synthesised while the opener
plays. An opener not made yet is synthesised on its own first, and kept for next time. Only
for voices worth it (Piper); espeak-ng's replies stay one part."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass

from gateway.audio import AudioFormat, Pcm, convert, read_wav, write_wav
from gateway.hermes.base import language_tag
from gateway.tts.cache import CachedReply, ReplyCache, ReplyKey
from gateway.tts.engine import SynthesisError, TtsEngine, join_pcm, worth_making_ahead
from gateway.tts.phrasebook import Phrasebook
from gateway.tts.settings import OutputFormat, TtsSettings


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole reply, or one part of a streamed one (then `synthesis_s` is that part's)."""

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
        self, settings: TtsSettings, engines: Mapping[str, TtsEngine], cache: ReplyCache, language_of: Callable[[str], str],
        phrasebook: Phrasebook | None = None,
    ) -> None:
        # language_of: the site's language, from the one mapping every part reads (voice.sites).
        self._settings = settings
        self._language_of = language_of
        self._engines = engines
        self.cache = cache
        self.phrasebook = phrasebook if phrasebook is not None else Phrasebook()

    @property
    def engines(self) -> Mapping[str, TtsEngine]:
        return self._engines

    @staticmethod
    def key_for(engine: TtsEngine, text: str, wanted: OutputFormat, gain: float | None) -> ReplyKey:
        # Rate 0 in the key stands for "the engine's own rate", which is fixed per voice.
        return ReplyKey(engine.voice_key, text, AudioFormat(wanted.sample_rate or 0, wanted.sample_width, wanted.channels), gain)

    def language_for(self, site_id: str, requested: str | None) -> str:
        """The request's language when we have a voice for it, else the site's."""
        tag = language_tag(requested)
        if tag is not None and tag in self._engines:
            return tag
        return self._language_of(site_id)

    async def reply(self, text: str, site_id: str, lang: str | None = None, volume: float | None = None) -> Reply:
        """The whole reply in one piece."""
        started = time.perf_counter()
        async with aclosing(self.stream(text, site_id, lang, volume)) as parts:
            replies = [part async for part in parts]
        if len(replies) == 1:
            return replies[0]
        whole = join_pcm([read_wav(part.wav) for part in replies])
        first = replies[0]
        return Reply(write_wav(whole), whole.duration_s, first.engine, first.language, False, time.perf_counter() - started)

    async def stream(self, text: str, site_id: str, lang: str | None = None, volume: float | None = None) -> AsyncGenerator[Reply, None]:
        """The reply in parts, each as soon as the engine has it; close the iterator (aclosing)
        to stop the engine from synthesising the rest."""
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
        key = self.key_for(engine, text, wanted, gain)
        cached = self.cache.get(key)
        if cached is not None:
            yield Reply(cached.wav, cached.duration_s, engine.name, language, True, 0.0)
            return
        converted: list[Pcm] = []
        opening = self.phrasebook.opener_of(language, text) if worth_making_ahead(engine) else None
        if opening is not None:
            opener = await self._opener(engine, opening.opener, wanted, gain)
            converted.append(read_wav(opener.wav))
            yield Reply(opener.wav, opener.duration_s, engine.name, language, opener.cached, opener.synthesis_s)
            text = opening.rest
        async with aclosing(engine.stream(text)) as chunks:
            started = time.perf_counter()
            async for pcm in chunks:
                out = convert(pcm, wanted.resolve(pcm.format), gain)
                converted.append(out)
                part = Reply(write_wav(out), out.duration_s, engine.name, language, False, time.perf_counter() - started)
                yield part
                started = time.perf_counter()  # the reader's time between parts is not synthesis
        whole = join_pcm(converted)
        self.cache.put(key, CachedReply(write_wav(whole), whole.duration_s))

    async def _opener(self, engine: TtsEngine, opener: str, wanted: OutputFormat, gain: float | None) -> _Made:
        """The opener's audio: made ahead (a hit), or synthesised now and kept for next time."""
        key = self.key_for(engine, opener, wanted, gain)
        cached = self.cache.get(key)
        if cached is not None:
            return _Made(cached.wav, cached.duration_s, True, 0.0)
        started = time.perf_counter()
        async with aclosing(engine.stream(opener)) as chunks:
            pieces = [chunk async for chunk in chunks]
        pcm = join_pcm(pieces)
        out = convert(pcm, wanted.resolve(pcm.format), gain)
        made = _Made(write_wav(out), out.duration_s, False, time.perf_counter() - started)
        # Kept with the prepared unless a volume was asked for: volumes come from the network,
        # and one per request could otherwise churn the openers made ahead out of their region.
        self.cache.put(key, CachedReply(made.wav, made.duration_s), prepared=gain is None)
        return made


@dataclass(frozen=True, slots=True)
class _Made:
    wav: bytes
    duration_s: float
    cached: bool
    synthesis_s: float
