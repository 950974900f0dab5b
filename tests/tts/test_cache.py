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


def test_prepared_entries_have_their_own_budget_and_ordinary_traffic_never_evicts_them() -> None:
    cache = ReplyCache(max_entries=2, max_bytes=100, prepared_max_bytes=50)
    assert cache.put(key("You will find"), reply(30), prepared=True)
    assert cache.prepared_room(20) and not cache.prepared_room(21)
    for n in range(10):  # a stream of unique replies
        cache.put(key(f"You will find milk in aisle {n}."), reply(40))
    assert cache.get(key("You will find")) is not None
    assert cache.prepared_hits == 1 and cache.prepared_bytes == 30
    assert cache.size_bytes == 30 + 80 and len(cache) == 3
    # Over its own budget the prepared region evicts its least recently used; too big is refused.
    assert cache.put(key("Today"), reply(20), prepared=True) and cache.prepared_bytes == 50
    assert cache.put(key("Especially for you:"), reply(25), prepared=True)
    assert key("You will find") not in cache and cache.prepared_bytes == 45
    assert not cache.put(key("Sorry, I don't know where that is."), reply(51), prepared=True)
    # An ordinary put of a prepared key keeps the prepared copy.
    assert cache.put(key("Today"), reply(5)) and cache.prepared_bytes == 45


def test_entries_of_voices_no_longer_in_use_are_dropped() -> None:
    cache = ReplyCache(max_entries=10, max_bytes=1000, prepared_max_bytes=1000)
    cache.put(key("hello", voice="piper:joe:aaaa"), reply(10), prepared=True)
    cache.put(key("hello again", voice="piper:joe:aaaa"), reply(10))
    cache.put(key("hello", voice="piper:joe:bbbb"), reply(10), prepared=True)
    assert cache.retain_voices({"piper:joe:bbbb"}) == 2
    assert key("hello", voice="piper:joe:aaaa") not in cache and key("hello again", voice="piper:joe:aaaa") not in cache
    assert key("hello", voice="piper:joe:bbbb") in cache and cache.size_bytes == 10
