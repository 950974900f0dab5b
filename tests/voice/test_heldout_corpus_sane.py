"""The held-out voice corpus (tests/data/voice_heldout) is well-formed and its renderer makes real audio.

This checks the corpus's own integrity only; it does not run the recogniser (bench/voice.py does).
"""

from __future__ import annotations

import importlib.util
import sys
import wave
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import yaml

CORPUS_DIR = Path(__file__).resolve().parents[1] / "data" / "voice_heldout"
CATALOGUE = Path(__file__).resolve().parents[2] / "skills" / "data" / "catalogue.yaml"
INTENTS = {"GetOpeningHours", "WhereIsProduct", "GetOffers", "GetPointsBalance", "CallStaff", "ForgetMe", "WhatDoYouKnow", "Help"}
TAGS = {"near-miss", "other-shop", "unknown-product", "half-sentence"}
MINIMUM_PER_INTENT = {"en": 20, "de": 15}


def _load_render_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("voice_heldout_render", CORPUS_DIR / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the postponed annotations through it
    spec.loader.exec_module(module)
    return module


render = _load_render_module()
CORPUS = render.load_corpus()


def _catalogue_ids() -> set[str]:
    return {product["id"] for product in yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))["products"]}


def test_the_file_says_it_is_held_out_and_was_written_blind() -> None:
    header = CORPUS_DIR.joinpath("utterances.yaml").read_text(encoding="utf-8").split("utterances:")[0]
    assert "HELD-OUT" in header and "WITHOUT access" in header and "NEVER use this file" in header


def test_ids_are_unique_and_say_their_language() -> None:
    ids = [u.id for u in CORPUS]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    assert all(u.id.startswith(f"{u.lang}-") for u in CORPUS)
    texts = [(u.lang, u.text.casefold()) for u in CORPUS]
    assert [t for t, n in Counter(texts).items() if n > 1] == []


def test_labels_are_known_intents_and_catalogue_products() -> None:
    products = _catalogue_ids()
    for u in CORPUS:
        assert u.intent is None or u.intent in INTENTS, u.id
        if u.intent == "WhereIsProduct":
            assert set(u.slots) == {"product"} and u.slots["product"] in products, u.id
        else:
            assert u.slots == {}, u.id
        assert set(u.tags) <= TAGS, u.id
        assert not u.tags or u.intent is None, f"{u.id}: tags mark off-topic speech only"


def test_every_utterance_fits_in_one_breath() -> None:
    assert [u.id for u in CORPUS if len(u.text.split()) > 14] == []


def test_enough_phrasings_per_intent_and_language() -> None:
    counts = Counter((u.lang, u.intent) for u in CORPUS)
    short = {(lang, intent): counts[(lang, intent)] for lang, minimum in MINIMUM_PER_INTENT.items()
             for intent in INTENTS if counts[(lang, intent)] < minimum}
    assert short == {}


def test_enough_off_topic_speech_in_both_languages() -> None:
    assert sum(u.intent is None for u in CORPUS) / len(CORPUS) >= 0.25
    for lang in ("en", "de"):
        in_lang = [u for u in CORPUS if u.lang == lang]
        assert sum(u.intent is None for u in in_lang) / len(in_lang) >= 0.20, lang
    # the near-misses of the irreversible and effectful intents are what off-topic must above all cover
    for lang in ("en", "de"):
        assert sum("near-miss" in u.tags for u in CORPUS if u.lang == lang) >= 10, lang


def test_every_catalogue_product_is_asked_for_in_both_languages() -> None:
    for lang in ("en", "de"):
        asked = {u.slots["product"] for u in CORPUS if u.lang == lang and u.intent == "WhereIsProduct"}
        assert _catalogue_ids() - asked == set(), lang


def test_the_default_plan_covers_every_utterance_and_every_cell_reproducibly() -> None:
    specs = render.plan(CORPUS, per_cell=6, seed=2026)
    clean_reference = {s.utterance.id for s in specs if s.voice == render.REFERENCE_VOICE[s.utterance.lang]
                       and s.speed == 1.0 and s.noise == "clean"}
    assert clean_reference == {u.id for u in CORPUS}
    cells = Counter((s.voice, s.speed, s.noise, s.snr_db) for s in specs if s.utterance.lang == "en")
    assert len(cells) == len(render.ENGLISH_VOICES) * len(render.SPEEDS) * len(render.CONDITIONS)
    assert [s.file_name for s in specs] == [s.file_name for s in render.plan(CORPUS, per_cell=6, seed=2026)]
    assert [s.file_name for s in specs] != [s.file_name for s in render.plan(CORPUS, per_cell=6, seed=7)]
    assert len({s.file_name for s in specs}) == len(specs)
    for spec in specs:
        if spec.noise == "babble":
            talkers = {voice for _, voice in spec.babble}
            assert spec.voice not in talkers and len(talkers) == render.BABBLE_TALKERS


def _spec(text_id: str, voice: Any, noise: str = "clean", snr: float | None = None) -> Any:
    corpus = {u.id: u for u in CORPUS}
    babble = ()
    if noise == "babble":
        babble = render._pick_babble(CORPUS, corpus[text_id], voice, np.random.default_rng(1))
    return render.RenderSpec(utterance=corpus[text_id], voice=voice, speed=1.0, noise=noise, snr_db=snr, babble=babble)


def _read(path: Path) -> tuple[np.ndarray, float]:
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getcomptype()) == (16000, 1, 2, "NONE")
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64) / 32768.0
        return pcm, wav.getnframes() / 16000


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return render.Renderer(tmp_path_factory.mktemp("heldout"), CORPUS)


@pytest.mark.parametrize("text_id,voice", [
    ("en-where-01", render.ESPEAK_EN[0]),
    ("en-where-01", render.ESPEAK_EN[-1]),
    ("en-where-01", render.PIPER_JOE),
    ("de-where-01", render.GERMAN_VOICE),
], ids=["espeak-en", "espeak-variant", "piper", "espeak-de"])
def test_each_voice_renders_a_plausible_wav(renderer: Any, text_id: str, voice: Any) -> None:
    item, fresh = renderer.render(_spec(text_id, voice), reuse=False)
    pcm, seconds = _read(renderer.out_dir / item.path)
    padding = render.LEAD_SILENCE_S + render.TRAIL_SILENCE_S
    assert fresh and item.duration_s == pytest.approx(seconds, abs=1e-3)
    assert padding + 0.4 < seconds < padding + 3.0  # three or four short words
    assert np.sqrt(np.mean(pcm ** 2)) > 0.01  # speech, not silence
    lead = pcm[: int(0.2 * 16000)]
    assert np.max(np.abs(lead)) < 1e-3  # the clean lead-in is silent


@pytest.mark.parametrize("noise,snr", [("pink", 10.0), ("babble", 10.0), ("babble", 20.0)])
def test_noise_is_mixed_at_the_requested_snr(renderer: Any, noise: str, snr: float) -> None:
    voice = render.ESPEAK_EN[1]
    clean_item, _ = renderer.render(_spec("en-hours-05", voice))
    noisy_item, _ = renderer.render(_spec("en-hours-05", voice, noise, snr), reuse=False)
    clean, _ = _read(renderer.out_dir / clean_item.path)
    noisy, _ = _read(renderer.out_dir / noisy_item.path)
    assert len(clean) == len(noisy)
    scale = float(np.dot(noisy, clean) / np.dot(clean, clean))  # the clip guard may have scaled both
    residual = noisy - scale * clean
    speech_only = clean[int(render.LEAD_SILENCE_S * 16000): len(clean) - int(render.TRAIL_SILENCE_S * 16000)]
    measured = 10 * np.log10(scale ** 2 * render.active_power(speech_only) / render.active_power(residual))
    assert measured == pytest.approx(snr, abs=1.5)
    assert np.max(np.abs(residual[: int(0.2 * 16000)])) > 1e-3  # the noise covers the lead-in too


def test_rendering_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    specs = [_spec("en-staff-03", render.PIPER_JOE, "babble", 10.0), _spec("en-staff-03", render.ESPEAK_EN[2], "pink", 20.0)]
    first = [render.Renderer(tmp_path / "a", CORPUS).render(s)[0] for s in specs]
    second = [render.Renderer(tmp_path / "b", CORPUS).render(s)[0] for s in specs]
    for a, b in zip(first, second):
        assert a.key == b.key
        assert (tmp_path / "a" / a.path).read_bytes() == (tmp_path / "b" / b.path).read_bytes()
