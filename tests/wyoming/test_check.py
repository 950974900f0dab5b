"""`touchgate check` names Wyoming's problems before the gateway starts: a wake phrase PocketSphinx
cannot say, satellites without the gateway's voice, two satellites on one site, no voice part."""

from __future__ import annotations

from pathlib import Path

from gateway.check import check_all
from gateway.config.settings import Settings
from gateway.wyoming.check import check_wyoming

SATELLITE = {"uri": "tcp://speaker:10700", "site_id": "till"}


def test_the_shipped_wake_phrase_and_an_off_section_have_no_problems() -> None:
    assert check_wyoming(Settings()) == []
    assert check_wyoming(Settings(wyoming={"enabled": True, "satellites": [SATELLITE]})) == []


def test_a_wake_phrase_outside_the_dictionary_is_named(tmp_path: Path) -> None:
    config = tmp_path / "touchgate.yaml"
    config.write_text("wyoming:\n  enabled: true\n  satellites:\n    - {uri: 'tcp://speaker:10700', site_id: till}\n  wake:\n    phrase: hey zzyzxqv\n")
    problems = [p for p in check_all(config) if p.field.startswith("wyoming")]
    assert [(p.field, p.message) for p in problems] == [("wyoming.wake.phrase", "not in PocketSphinx's English dictionary: zzyzxqv")]


def test_wiring_problems_are_named() -> None:
    no_voice = check_wyoming(Settings(voice={"enabled": False}, wyoming={"enabled": True}))
    assert [p.field for p in no_voice] == ["wyoming.enabled"]
    twice = check_wyoming(Settings(tts={"enabled": False}, wyoming={"enabled": True, "satellites": [SATELLITE, SATELLITE]}))
    assert sorted(p.message for p in twice) == [
        "satellites need the gateway's own voice (tts.enabled: true) to hear replies",
        "two satellites share a site_id",
    ]
