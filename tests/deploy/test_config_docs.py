"""The commented config template is valid (`touchgate check`) and fits the unit; the operator
guide's configuration reference is what the Settings model says."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import yaml

from gateway.config.settings import Settings
from tests.deploy.support import DEPLOY, PROJECT, PYTHON, run

GENERATOR = PROJECT / "scripts" / "gen_config_reference.py"
EXAMPLE = DEPLOY / "config.example.yaml"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_config_reference", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_example_config_passes_touchgate_check() -> None:
    # Its paths are the Pi's; here the profiles and rules come from the source tree.
    env = {"TOUCHGATE_DEVICE_PROFILES_DIR": str(PROJECT / "device_profiles"), "TOUCHGATE_RULES__DIR": str(PROJECT / "rules")}
    result = run([Path(PYTHON).parent / "touchgate", "check", "--config", EXAMPLE], env=env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "configuration OK" in result.stdout


def test_example_config_fits_the_unit_and_the_layout() -> None:
    values = yaml.safe_load(EXAMPLE.read_text())
    unit = (DEPLOY / "touchgate.service").read_text()
    writable = re.search(r"^ReadWritePaths=(.+)$", unit, re.M)
    assert writable is not None
    # The database must be where the hardened service may write.
    assert any(values["store"]["path"].startswith(path + "/") for path in writable.group(1).split())
    assert values["device_profiles_dir"].startswith("/opt/touchgate/current/")
    assert "/etc/touchgate/config.yaml" in unit
    # No secret in the template: they live in secrets.env, read by systemd.
    assert "password" not in values.get("mqtt", {})
    assert "EnvironmentFile=-/etc/touchgate/secrets.env" in unit


def test_operators_guide_reference_is_up_to_date() -> None:
    result = run([PYTHON, GENERATOR, "--check"], check=False)
    assert result.returncode == 0, result.stderr


def test_reference_covers_every_setting_and_notices_drift() -> None:
    gen = generator()
    guide = (PROJECT / "docs" / "operators.md").read_text()
    for name in Settings.model_fields:
        assert f"`{name}" in guide, name
    assert "`mqtt.port` | int | `1883`" in guide
    # A guide missing a row (as after a new setting) is out of date.
    stale = guide.replace(next(line for line in guide.splitlines() if line.startswith("| `mqtt.port`")) + "\n", "")
    assert stale != guide
    assert gen.updated(stale) != stale
    assert gen.updated(stale) == gen.updated(guide)
