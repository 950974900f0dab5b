"""`touchgate check` for voice: the shipped skills are clean; broken sentences and shop data are
reported with file, line and field."""

from __future__ import annotations

from pathlib import Path

from gateway.check import check_all
from gateway.config.settings import Settings
from gateway.voice.check import check_voice


def test_shipped_skills_and_data_have_no_problems() -> None:
    assert check_voice(Settings()) == []


def test_broken_catalogue_and_unknown_words_are_reported(tmp_path: Path) -> None:
    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text("products:\n  - {id: milk, aisle: 3, category: dairy, names: {en: [milk]}}\n  - {id: Bad Id, aisle: -1, category: x, names: {en: [x]}}\n")
    problems = check_voice(Settings(voice={"catalogue": catalogue}))
    assert {p.line for p in problems} == {3}
    assert any(p.field.startswith("products[1].id") for p in problems)

    catalogue.write_text("products:\n  - {id: quux, aisle: 3, category: dairy, names: {en: [zzyzxqv]}}\n")
    problems = check_voice(Settings(voice={"catalogue": catalogue}))
    assert [p.message for p in problems] == ["PocketSphinx's dictionary has no 'zzyzxqv': sentences with it cannot be recognised"]


def test_config_file_errors_name_the_line(tmp_path: Path) -> None:
    config = tmp_path / "touchgate.yaml"
    config.write_text("voice:\n  language: en\n  endpoint:\n    silence_ms: 5\n")
    fields = {p.field: p.line for p in check_all(config)}
    assert fields == {"voice.endpoint.silence_ms": 4}
    config.write_text("site_id: x\nvoice:\n  engine: vosk\n")
    problems = check_all(config)
    assert [(p.field, p.line) for p in problems] == [("voice", 2)]
    assert "vosk_model_dir" in problems[0].message


def test_missing_skill_module_is_a_problem() -> None:
    problems = check_voice(Settings(voice={"skills": ["skills.no_such_skill"]}))
    assert problems and "cannot import skills.no_such_skill" in problems[0].message
