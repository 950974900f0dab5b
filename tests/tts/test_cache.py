from __future__ import annotations

from gateway.tts.cache import CachedReply, ReplyCache, ReplyKey
from gateway.audio import AudioFormat

FMT = AudioFormat(16000, 2, 1)


def key(text: str, voice: str = "espeak-ng:en-us:150:50", volume: float | None = None) -> ReplyKey:
    return ReplyKey(voice, text, FMT, volume)


def reply(size: int) -> CachedReply:
    return CachedReply(b"x" * size, size / 32000)


def test_least_recently_used_goes_first() -> None:
    cache = ReplyCache(max_entries=2, max_bytes=10_000)
    cache.put(key("hello"), reply(10))
    cache.put(key("opening hours"), reply(10))
    assert cache.get(key("hello")) is not None  # now "opening hours" is the oldest
    cache.put(key("goodbye"), reply(10))
    assert cache.get(key("opening hours")) is None
    assert cache.get(key("hello")) is not None and cache.get(key("goodbye")) is not None
    assert (cache.hits, cache.misses) == (3, 1)


def test_voice_format_and_volume_are_part_of_the_key() -> None:
    cache = ReplyCache(max_entries=10, max_bytes=10_000)
    cache.put(key("hello"), reply(10))
    assert cache.get(key("hello", voice="espeak-ng:de:150:50")) is None
    assert cache.get(key("hello", volume=0.5)) is None
    assert cache.get(ReplyKey("espeak-ng:en-us:150:50", "hello", AudioFormat(22050, 2, 1), None)) is None
    assert cache.get(key("hello")) is not None


def test_byte_budget_evicts_and_oversized_replies_are_not_kept() -> None:
    cache = ReplyCache(max_entries=100, max_bytes=100)
    cache.put(key("a"), reply(60))
    cache.put(key("b"), reply(30))
    cache.put(key("c"), reply(30))  # 120 > 100: "a" goes
    assert cache.get(key("a")) is None and len(cache) == 2 and cache.size_bytes == 60
    cache.put(key("huge"), reply(101))
    assert cache.get(key("huge")) is None and cache.size_bytes == 60


def test_replacing_an_entry_keeps_the_byte_count_right() -> None:
    cache = ReplyCache(max_entries=10, max_bytes=1000)
    cache.put(key("a"), reply(100))
    cache.put(key("a"), reply(40))
    assert cache.size_bytes == 40 and len(cache) == 1


def test_zero_entries_disables_the_cache() -> None:
    cache = ReplyCache(max_entries=0, max_bytes=1000)
    cache.put(key("a"), reply(1))
    assert cache.get(key("a")) is None and len(cache) == 0
