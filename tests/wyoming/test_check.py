"""`touchgate check` names Wyoming's problems before the gateway starts: a wake phrase PocketSphinx
cannot say, satellites without the gateway's voice, two satellites on one site, no voice part."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.check import check_all
from gateway.config.settings import Settings
from gateway.wyoming.check import check_wyoming
from gateway.wyoming.settings import WakeSettings, WyomingSettings
from gateway.wyoming.wake import WakePhraseError, wake_model

SATELLITE = {"uri": "tcp://speaker:10700", "site_id": "till"}


def test_the_shipped_wake_phrase_and_an_off_section_have_no_problems() -> None:
    assert check_wyoming(Settings()) == []
    assert check_wyoming(Settings(wyoming={"enabled": True, "satellites": [SATELLITE]})) == []


def test_a_wake_phrase_outside_the_dictionary_is_named(tmp_path: Path) -> None:
    config = tmp_path / "touchgate.yaml"
    config.write_text("wyoming:\n  enabled: true\n  satellites:\n    - {uri: 'tcp://speaker:10700', site_id: till}\n  wake:\n    phrase: hey zzyzxqv\n")
    problems = [p for p in check_all(config) if p.field.startswith("wyoming")]
    assert [(p.file, p.line, p.field) for p in problems] == [(str(config), 6, "wyoming.wake.phrase")]
    assert "not in PocketSphinx's English dictionary: zzyzxqv" in problems[0].message


def test_a_phrase_built_in_code_is_refused_by_the_wake_stage_too() -> None:
    """Settings built in code skip nothing: the wake model refuses what the file check would."""
    settings = Settings.model_construct(wyoming=WyomingSettings.model_construct(wake=WakeSettings.model_construct(phrase="hey qqxzv")))
    with pytest.raises(WakePhraseError, match="qqxzv"):
        wake_model(settings.wyoming.wake)


def test_wiring_problems_are_named() -> None:
    no_voice = check_wyoming(Settings(voice={"enabled": False}, wyoming={"enabled": True}))
    assert [p.field for p in no_voice] == ["wyoming.enabled"]
    twice = check_wyoming(Settings(tts={"enabled": False}, wyoming={"enabled": True, "satellites": [SATELLITE, SATELLITE]}))
    assert sorted(p.message for p in twice) == [
        "satellites need the gateway's own voice (tts.enabled: true) to hear replies",
        "two satellites share a site_id",
    ]
