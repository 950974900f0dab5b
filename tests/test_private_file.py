"""`touchgate export --out FILE` as an attacker sharing the folder would try it: the file is new
and 0600 whatever the umask, never written through a planted symlink, never over another file,
and complete or absent (gateway/private_file.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.private_file import TargetExists, private_file

CUSTOMER = "card:94D8FC5F"


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "touchgate.yaml"
    config.write_text("site_id: shop1\nstore:\n  path: touchgate.db\n")
    return config


def _export(tmp_path: Path, out: Path) -> int:
    previous = os.umask(0)  # the most careless operator shell: nothing masked
    try:
        return main(["export", CUSTOMER, "--out", str(out), "--config", str(_config(tmp_path))])
    finally:
        os.umask(previous)


def test_export_is_private_under_any_umask(tmp_path: Path) -> None:
    out = tmp_path / "export.json"
    assert _export(tmp_path, out) == 0
    assert stat.S_IMODE(out.lstat().st_mode) == 0o600 and stat.S_ISREG(out.lstat().st_mode)
    assert out.read_text().startswith("{") and not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_export_never_writes_through_a_symlink_or_over_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    victim = tmp_path / "victim.conf"
    victim.write_text("keep me\n")
    planted = tmp_path / "planted.json"
    planted.symlink_to(victim)
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "would-be-created.json")
    existing = tmp_path / "existing.json"
    existing.write_text("an earlier export\n")
    for target in (planted, dangling, existing):
        assert _export(tmp_path, target) == 1
        assert "never replaces" in capsys.readouterr().err
    assert victim.read_text() == "keep me\n" and existing.read_text() == "an earlier export\n"
    assert not (tmp_path / "would-be-created.json").exists()
    assert planted.is_symlink() and dangling.is_symlink()


def test_a_link_planted_after_the_check_is_still_refused(tmp_path: Path) -> None:
    """The race: the name is free when the export starts and taken by a link when it ends."""
    victim = tmp_path / "victim.conf"
    victim.write_text("keep me\n")
    target = tmp_path / "race.json"
    with pytest.raises(TargetExists):
        with private_file(target) as out:
            out.write('{"personal": true}\n')
            target.symlink_to(victim)
    assert victim.read_text() == "keep me\n" and target.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.json", "victim.conf"]


def test_a_failed_export_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "half.json"
    with pytest.raises(RuntimeError):
        with private_file(target) as out:
            out.write('{"tables": [')
            raise RuntimeError("disk full, say")
    assert list(tmp_path.iterdir()) == []
