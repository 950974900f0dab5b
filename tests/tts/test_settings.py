"""The tts settings section: validation with file and line, per-site resolution, `touchgate check`."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.problems import ConfigError
from gateway.config.settings import Settings, load_settings
from gateway.tts.part import check
from gateway.tts.settings import OutputFormat, TtsSettings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "touchgate.yaml"
    path.write_text(text)
    return path


def problems_of(path: Path) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return [(p.line, p.field, p.message) for p in caught.value.problems]


def test_bad_tts_config_names_line_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "site_id: shop1\n"
        "tts:\n"
        "  voices:\n"
        "    en:\n"
        "      engine: piper\n"
        "  sites:\n"
        "    kiosk:\n"
        "      language: de\n"
        "      sample_rate: 4000\n"
        "  cache_entrys: 10\n"
        "voice:\n"
        "  sites:\n"
        "    kiosk:\n"
        "      language: German\n",
    )
    found = problems_of(path)
    fields = {field: line for line, field, _ in found}
    assert fields["tts.voices.en"] == 4
    # A site's language is set once for every part, under voice.sites: here it is refused.
    assert fields["tts.sites.kiosk.language"] == 8
    assert fields["tts.sites.kiosk.sample_rate"] == 9
    assert fields["tts.cache_entrys"] == 10
    assert fields["voice.sites.kiosk.language"] == 14
    assert any("piper_model" in message for _, _, message in found)


def test_sites_take_section_defaults(tmp_path: Path) -> None:
    settings = load_settings(
        write(tmp_path, "voice:\n  enabled: false\n  language: de\n  sites:\n    desk: {language: en}\n"
                        "tts:\n  sample_rate: 22050\n  sites:\n    desk: {channels: 2}\n")
    )
    tts = settings.tts
    assert settings.voice.language_of("desk") == "en" and settings.voice.language_of("till") == "de"
    assert tts.output_of("desk") == OutputFormat(sample_rate=22050, sample_width=2, channels=2)
    assert tts.output_of("till") == OutputFormat(sample_rate=22050, sample_width=2, channels=1)
    assert tts.voice("de").engine == "espeak-ng"


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHGATE_VOICE__LANGUAGE", "de")
    monkeypatch.setenv("TOUCHGATE_TTS__PLAY_FINISHED_TIMEOUT_S", "2.5")
    settings = load_settings(write(tmp_path, "voice:\n  language: en\n"))
    assert settings.voice.language == "de" and settings.tts.play_finished_timeout_s == 2.5


def test_check_finds_missing_voices_and_models(tmp_path: Path) -> None:
    assert check(Settings()) == []
    settings = Settings(
        tts=TtsSettings(
            voices={
                "en": {"engine": "piper", "piper_model": tmp_path / "missing.onnx"},
                "de": {"espeak_voice": "xx-nowhere"},
            },
        )
    )
    found = {(p.field, p.file) for p in check(settings)}
    assert ("tts.voices.en.piper_model", str(tmp_path / "missing.onnx")) in found
    assert ("tts.voices.en.piper_config", str(tmp_path / "missing.onnx.json")) in found
    assert any(field == "tts.voices.de.espeak_voice" for field, _ in found)
    no_espeak = Settings(tts=TtsSettings(espeak_ng_path="/nonexistent/espeak-ng"))
    assert [p.field for p in check(no_espeak)] == ["tts.espeak_ng_path"]
    assert check(Settings(tts=TtsSettings(enabled=False, espeak_ng_path="/nonexistent"))) == []
