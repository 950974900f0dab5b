"""Rules files: problems reported with file, line and field; `touchgate check` includes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config.settings import PROJECT_ROOT
from gateway.rules.loader import load_rules
from gateway.rules.model import parse_duration
from gateway.rules.settings import RulesSettings
from tests.rules.support import write_rules


def problems(tmp_path: Path, text: str) -> list[str]:
    path = write_rules(tmp_path / "rules", text)
    result = load_rules(RulesSettings(dir=path.parent))
    assert result.rules is None
    return [str(p) for p in result.problems]


def test_example_rules_load() -> None:
    result = load_rules(RulesSettings(dir=PROJECT_ROOT / "rules"))
    assert result.problems == []
    assert result.rules is not None and len(result.rules) >= 6


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1.5m", 90), (45, 45), ("250ms", 0.25)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "-5s", True, "5 parsecs"])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_field_error_has_file_line_and_field(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
    - id: ok
      trigger: {kind: occupancy}
      actions: [{say: {text: hi}}]
    - id: bad
      trigger:
        kind: occupancy
        for: soon
      actions: [{say: {text: hi}}]
    """)
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'rules' / 'rules.yaml'}:7: [1].trigger.for: ")
    assert "not a duration" in found[0]


def test_personal_data_needs_a_purpose(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
    rules:
      - id: sneaky
        trigger: {kind: identify}
        actions:
          - say: {text: "Hello {{ profile.first_name }}"}
    """)
    assert len(found) == 1 and ":5: rules[0].actions[0].say: " in found[0]
    assert "declare the consent `purpose`" in found[0]


def test_several_problems_at_once(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
    zones: {front: ["shop1/door-*"]}
    rules:
      - id: a
        trigger: {kind: occupancy, zone: back}
        actions: [{say: {text: hi}}]
      - id: a
        trigger: {kind: occupancy}
        actions: [{say: {text: hi}}]
      - id: b
        trigger: {kind: occupancy}
        conditions: [{profile: tier}]
        actions: [{jump: {}}]
      - id: c
        trigger: {kind: occupancy}
        actions: [{say: {text: "{{ nonsense.x }}"}}]
      - id: d
        trigger: {kind: occupancy}
        actions: [{say: {text: "{{ broken "}}]
    """)
    text = "\n".join(found)
    assert ":6: rules[1].id: rule id 'a' is used twice" in text
    assert ":4: rules[0].trigger.zone: unknown zone 'back'" in text
    assert ":11: rules[2].conditions[0]" in text and "say what to compare" in text
    assert ":12: rules[2].actions[0]" in text
    assert ":15: rules[3].actions[0].say: unknown name(s) ['nonsense']" in text
    assert ":18: rules[4].actions[0].say: template error" in text


def test_yaml_syntax_error(tmp_path: Path) -> None:
    found = problems(tmp_path, "- id: a\n  trigger: {kind: occupancy\n")
    assert len(found) == 1 and "rules.yaml:" in found[0]


def test_touchgate_check_reports_rule_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_rules(tmp_path / "rules", "- id: x\n  trigger: {kind: occupancy}\n  actions: []\n")
    config = tmp_path / "touchgate.yaml"
    config.write_text("rules:\n  dir: rules\n")
    assert main(["check", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'rules' / 'rules.yaml'}:3: [0].actions: " in out


def test_check_knows_the_purposes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_rules(tmp_path / "rules", """\
    - id: typo
      purpose: personalization
      trigger: {kind: identify}
      actions: [{say: {text: "hi {{ profile.first_name }}"}}]
    """)
    config = tmp_path / "touchgate.yaml"
    config.write_text("rules:\n  dir: rules\n")
    assert main(["check", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "rules.yaml:1: typo.purpose: unknown purpose 'personalization'" in out
