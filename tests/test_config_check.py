"""Bad configuration fails at start with file, line and field; `touchgate check` lists it all."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config.problems import ConfigError
from gateway.config.settings import PROJECT_ROOT, load_settings


def run_check(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check", "--config", str(config)], capture_output=True, text=True, timeout=60
    )


def test_shipped_configuration_is_valid(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("site_id: shop1\n")
    out = run_check(config)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "configuration OK" in out.stdout


def test_bad_config_reports_file_line_and_field(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("site_id: shop1\nmqtt:\n  host: broker.local\n  port: 99999\n  keepalive_s: fast\nstore:\n  batchmax: 10\n")
    out = run_check(config)
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert f"{config}:4: mqtt.port: Input should be less than or equal to 65535" in lines
    assert any(line.startswith(f"{config}:5: mqtt.keepalive_s:") for line in lines)
    assert any(line.startswith(f"{config}:7: store.batchmax: Extra inputs") for line in lines)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("site_id: shop1\nmqtt:\n  host: [unclosed\n")
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    assert err.value.problems[0].file == str(config)
    assert err.value.problems[0].line is not None


def test_bad_device_profile_is_reported_with_line(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    shutil.copytree(PROJECT_ROOT / "device_profiles", profiles, ignore=shutil.ignore_patterns("samples"))
    (profiles / "broken.yaml").write_text(
        "name: broken\nmanufacturer: X\nmodel: Y\ntopic: a/{device}/+\nkind: door\npurpose: analytics\n"
        "resources:\n  - {name: open, source: open, type: boolean}\n"
    )
    config = tmp_path / "config.yaml"
    config.write_text(f"device_profiles_dir: {profiles}\n")
    out = run_check(config)
    assert out.returncode == 1
    assert f"{profiles / 'broken.yaml'}:8: resources[0].type:" in out.stdout


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("mqtt:\n  port: 1884\nstore:\n  path: data/gw.db\n")
    monkeypatch.setenv("TOUCHGATE_MQTT__PORT", "1999")
    settings = load_settings(config)
    assert settings.mqtt.port == 1999
    assert settings.store.path == tmp_path / "data" / "gw.db"


def test_tls_without_ca_refuses_to_start() -> None:
    from gateway.config.settings import MqttSettings
    from gateway.mqtt import MqttClient, MqttConfigError

    with pytest.raises(MqttConfigError):
        MqttClient(MqttSettings(tls=True))
    with pytest.raises(MqttConfigError):
        MqttClient(MqttSettings(tls=False, ca_file=Path("/etc/ssl/ca.pem")))


def test_every_relative_path_in_the_file_is_anchored_at_its_folder(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "config.yaml"
    config.parent.mkdir()
    config.write_text(
        "device_profiles_dir: profiles\nstore: {path: data/gw.db}\n"
        "mqtt: {tls: true, ca_file: certs/ca.pem, cert_file: certs/gw.pem, key_file: certs/gw.key}\n"
        "rules: {dir: rules}\nsync: {url: 'https://central.example', token: t0ken, ca_file: certs/central.pem}\n"
    )
    settings = load_settings(config)
    base = config.parent
    assert settings.device_profiles_dir == base / "profiles"
    assert settings.store.path == base / "data" / "gw.db"
    assert (settings.mqtt.ca_file, settings.mqtt.cert_file, settings.mqtt.key_file) == (
        base / "certs" / "ca.pem", base / "certs" / "gw.pem", base / "certs" / "gw.key"
    )
    assert settings.rules.dir == base / "rules"
    assert settings.sync.ca_file == base / "certs" / "central.pem"
    # Not written in the file: the default stays as it is.
    assert settings.voice == load_settings(None).voice


def test_a_duplicate_key_is_an_error_not_silently_dropped(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("mqtt:\n  port: 1884\nstore:\n  path: a.db\nmqtt:\n  tls: false\n")
    out = run_check(config)
    assert out.returncode == 1
    assert f"{config}:5: (file): duplicate key 'mqtt' (first at line 1)" in out.stdout


@pytest.mark.parametrize(
    ("yaml_text", "field", "line"),
    [
        ("site_id: shop1\nmqtt:\n  port: 1883\n  tls: true\n", "mqtt.ca_file", 2),
        ("site_id: shop1\nmqtt:\n  tls: false\n  ca_file: ca.pem\n", "mqtt.ca_file", 4),
        ("site_id: shop1\napi:\n  enabled: true\n", "api.token", 2),
        ("api:\n  enabled: true\n  insecure_no_auth: true\n  host: 0.0.0.0\n", "api.host", 4),
    ],
)
def test_check_and_run_refuse_cross_field_problems_at_the_same_line(tmp_path: Path, yaml_text: str, field: str, line: int) -> None:
    """`touchgate check` used to say "configuration OK" for `mqtt.tls: true` without a CA file,
    and `touchgate run` then died with a traceback."""
    from gateway.check import check_all
    from gateway.cli import main

    config = tmp_path / "touchgate.yaml"
    config.write_text(yaml_text)
    problems = check_all(config)
    assert [(p.field, p.line, p.file) for p in problems] == [(field, line, str(config))]
    with pytest.raises(SystemExit) as exited:
        main(["run", "--config", str(config)])
    assert exited.value.code == 1


_BLOCKER = '''
import importlib.abc, sys

BLOCKED = {"numpy", "soxr", "pocketsphinx", "vosk", "piper", "onnxruntime", "wyoming"}


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked (a Pi without the speech extras)")
        return None


sys.meta_path.insert(0, _Blocker())
'''


def test_check_works_without_the_speech_extras_when_voice_and_tts_are_off(tmp_path: Path) -> None:
    """A shop without speakers installs no speech libraries: `touchgate check` (every part's
    cheap check) must not import them. They are made unimportable in a child interpreter."""
    import subprocess
    import sys

    (tmp_path / "sitecustomize.py").write_text(_BLOCKER)
    config = tmp_path / "touchgate.yaml"
    config.write_text("site_id: shop1\nvoice:\n  enabled: false\ntts:\n  enabled: false\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(PROJECT_ROOT)])}
    probe = subprocess.run([sys.executable, "-c", "import numpy"], env=env, capture_output=True, text=True, timeout=60)
    assert "blocked" in probe.stderr  # the blocker is active in the child
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check", "--config", str(config)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout
    # The CLI's parser (every part's commands) loads without them too.
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "--help"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
