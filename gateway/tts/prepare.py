"""Replies made ahead: at start, the phrasebook's openers and fixed replies are synthesised in the
background, for every voice and every output format a site uses, into the reply cache's prepared
region. Then a skill's reply starts with a cache hit: its first audio is out in about a
millisecond, and the rest (the slot values onwards) is synthesised while the opener plays.

Only for voices worth it (`BackgroundSynthesis`: Piper, which synthesises them in a second
thread at nice 19; espeak-ng is fast enough as it is). Bounded and gentle: one text at a time;
at the prepared region's byte budget (`tts.prepared_max_bytes`) it skips what does not fit (and
every longer text after it) instead of evicting what it made. It
runs once per start: the cache lives in memory, and a voice's identity (a hash of its model and
config) is in every key, so replies of a voice that changed are dropped first and never served.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.audio import convert, write_wav
from gateway.tts.cache import CachedReply
from gateway.tts.engine import BackgroundSynthesis, SynthesisError
from gateway.tts.settings import OutputFormat
from gateway.tts.synthesiser import Synthesiser

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """What one preparation did (logged, and read by tests and bench/tts.py)."""

    made: int = 0  # entries put in the cache (texts × output formats)
    texts: int = 0  # texts synthesised
    skipped_budget: int = 0  # texts left out because the prepared budget was full
    failed: int = 0
    dropped_stale: int = 0  # entries of voices no longer configured (a model replaced)
    seconds: float = 0.0
    bytes: int = 0


async def prepare_replies(synthesiser: Synthesiser, formats: Sequence[OutputFormat]) -> Prepared:
    """Make the phrasebook's texts ahead for every language with a voice, in each of `formats`
    (the sites' distinct output formats), until done or the budget is full."""
    started = time.perf_counter()
    cache = synthesiser.cache
    result = Prepared()
    result.dropped_stale = cache.retain_voices({engine.voice_key for engine in synthesiser.engines.values()})
    for language, engine in synthesiser.engines.items():
        if not isinstance(engine, BackgroundSynthesis):
            continue  # espeak-ng: fast enough as it is
        too_long: int | None = None  # once a text did not fit, longer ones (more audio) will not either
        for text in synthesiser.phrasebook.texts_to_prepare(language):
            keys = [synthesiser.key_for(engine, text, wanted, None) for wanted in formats]
            if all(key in cache for key in keys):
                continue
            if too_long is not None and len(text) >= too_long:
                result.skipped_budget += 1
                continue
            try:
                pcm = await engine.synthesize_in_background(text)
            except SynthesisError as exc:
                result.failed += 1
                log.warning("cannot make %r ahead (%s): %s", text, language, exc)
                continue
            result.texts += 1
            full = False
            for key, wanted in zip(keys, formats, strict=True):
                out = convert(pcm, wanted.resolve(pcm.format), None)
                wav = write_wav(out)
                if not cache.prepared_room(len(wav)):
                    full = True
                    break
                cache.put(key, CachedReply(wav, out.duration_s), prepared=True)
                result.made += 1
            if full:
                result.skipped_budget += 1
                too_long = len(text)
    result.seconds = time.perf_counter() - started
    result.bytes = cache.prepared_bytes
    log.info(
        "replies made ahead",
        extra={"fields": {
            "event": "tts_prepared", "entries": result.made, "texts": result.texts, "bytes": result.bytes,
            "skipped_budget": result.skipped_budget, "failed": result.failed, "dropped_stale": result.dropped_stale,
            "seconds": round(result.seconds, 2),
        }},
    )
    return result


async def prepare_in_background(synthesiser: Synthesiser, formats: Sequence[OutputFormat]) -> None:
    """The TTS part's task: preparation is an optimisation, so nothing in it may stop the
    gateway (an isolation boundary: an unexpected error is logged with its traceback)."""
    try:
        await prepare_replies(synthesiser, formats)
    except Exception:
        log.exception("making replies ahead failed; replies are synthesised as they are asked for")
