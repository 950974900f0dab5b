"""install.sh into a staging root: every file in place, re-runs keep what operators changed,
the unit passes systemd-analyze, the scripts pass shellcheck."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.deploy.support import DEPLOY, PROJECT, build_wheel, install, run, staged_env

SCRIPTS = sorted(DEPLOY.glob("*.sh"))


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory, project_wheel: Path) -> Path:
    root = tmp_path_factory.mktemp("root")
    install(root, project_wheel, "--site-id", "shop7")
    return root


def test_layout(staged: Path) -> None:
    current = staged / "opt/touchgate/current"
    assert current.is_symlink() and not Path(current.readlink()).is_absolute()  # relative: survives a move
    assert (current / ".complete").exists()
    assert (current / "venv/bin/touchgate").exists()
    assert sorted(p.name for p in (current / "device_profiles").glob("*.yaml")) == sorted(p.name for p in (PROJECT / "device_profiles").glob("*.yaml"))
    assert (current / "deploy/upgrade.sh").exists() and (current / "deploy/migrate_db.py").exists()
    assert (staged / "usr/local/bin/touchgate").readlink() == Path("/opt/touchgate/current/venv/bin/touchgate")
    assert (staged / "var/lib/touchgate/backups").is_dir()
    # The shop's rules are seeded from the shipped ones (then belong to the operator).
    assert sorted(p.name for p in (staged / "etc/touchgate/rules").glob("*.yaml")) == sorted(p.name for p in (PROJECT / "rules").glob("*.yaml"))
    assert (staged / "etc/systemd/system/touchgate.service").read_text() == (DEPLOY / "touchgate.service").read_text()

    config = (staged / "etc/touchgate/config.yaml").read_text()
    assert "site_id: shop7" in config
    assert stat.S_IMODE((staged / "etc/touchgate/config.yaml").stat().st_mode) == 0o640
    secrets = (staged / "etc/touchgate/secrets.env").read_text()
    assert secrets.startswith("TOUCHGATE_MQTT__PASSWORD=") and len(secrets.strip()) > 40
    assert stat.S_IMODE((staged / "etc/touchgate/secrets.env").stat().st_mode) == 0o640

    # Mosquitto: the conf.d file points at the real paths, the CA key stays with the CA.
    broker_conf = (staged / "etc/mosquitto/conf.d/touchgate.conf").read_text()
    assert "password_file /etc/mosquitto/touchgate/passwd" in broker_conf
    assert "listener 1883 127.0.0.1" in broker_conf
    conf_dir = staged / "etc/mosquitto/touchgate"
    assert sorted(p.name for p in conf_dir.iterdir()) == ["accounts", "acl", "broker.crt", "broker.key", "ca.crt", "passwd"]
    assert "touchgate:" in (conf_dir / "passwd").read_text()
    assert "user touchgate\ntopic readwrite #" in (conf_dir / "acl").read_text()
    assert stat.S_IMODE((staged / "etc/touchgate/ca/ca.key").stat().st_mode) == 0o600
    run(["openssl", "verify", "-CAfile", staged / "etc/touchgate/ca/ca.crt", conf_dir / "broker.crt"])


def test_staged_gateway_accepts_the_installed_config(staged: Path) -> None:
    touchgate = staged / "opt/touchgate/current/venv/bin/touchgate"
    result = run([touchgate, "check", "--config", staged / "etc/touchgate/config.yaml"], env=staged_env(staged))
    assert "configuration OK" in result.stdout
    # The staged gateway is the installed wheel, not the source tree.
    where = run([staged / "opt/touchgate/current/venv/bin/python", "-c", "import gateway; print(gateway.__file__)"], env=staged_env(staged))
    assert where.stdout.startswith(str(staged))


def test_rerun_keeps_config_secrets_and_certificates(staged: Path, project_wheel: Path) -> None:
    config = staged / "etc/touchgate/config.yaml"
    config.write_text(config.read_text() + "\n# edited by the operator\n")
    before = {
        name: (staged / name).read_bytes()
        for name in ("etc/touchgate/config.yaml", "etc/touchgate/secrets.env", "etc/touchgate/ca/ca.crt", "etc/mosquitto/touchgate/broker.crt")
    }
    release = (staged / "opt/touchgate/current").readlink()
    (staged / "etc/touchgate/rules/mine.yaml").write_text("[]\n")
    result = install(staged, project_wheel, "--site-id", "other")
    assert (staged / "etc/touchgate/rules/mine.yaml").exists()
    assert "already installed" in result.stderr
    assert "keeping /etc/touchgate/config.yaml" in result.stdout
    for name, content in before.items():
        assert (staged / name).read_bytes() == content, name
    assert (staged / "opt/touchgate/current").readlink() == release
    accounts = (staged / "etc/mosquitto/touchgate/accounts").read_text().splitlines()
    assert accounts == ["gateway touchgate "]


def test_another_release_over_an_installed_one_goes_through_upgrade(staged: Path, tmp_path: Path, project_wheel: Path) -> None:
    other = tmp_path / project_wheel.name
    shutil.copy(project_wheel, other)
    with other.open("ab") as f:  # same version, different bytes: a different release
        f.write(b"\0")
    result = install(staged, other, check=False)
    assert result.returncode != 0
    assert "upgrade.sh" in result.stderr


def test_systemd_analyze_accepts_the_unit(staged: Path, tmp_path: Path) -> None:
    """The unit as installed; only ExecStart is pointed into the staging root, because
    systemd-analyze checks that the program exists on this machine."""
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: apt-get install systemd (scripts/debian-packages.txt)")
    unit = (staged / "etc/systemd/system/touchgate.service").read_text()
    assert "ExecStart=/opt/touchgate/current/venv/bin/touchgate run" in unit
    verified = tmp_path / "touchgate.service"
    verified.write_text(unit.replace("ExecStart=/opt/touchgate", f"ExecStart={staged}/opt/touchgate"))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(verified)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # Unknown or misspelt settings are only warnings to systemd: none may appear.
    assert "touchgate.service" not in result.stderr, result.stderr
    for required in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict",
                     "ReadWritePaths=/var/lib/touchgate", "PrivateTmp=yes", "ProtectHome=yes", "CapabilityBoundingSet=\n",
                     "MemoryMax=", "StandardOutput=journal"):
        assert required in unit, required


def test_systemd_analyze_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a unit whose program does not exist is refused."""
    broken = tmp_path / "touchgate.service"
    broken.write_text((DEPLOY / "touchgate.service").read_text().replace("ExecStart=/opt/touchgate", f"ExecStart={tmp_path}/missing"))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(broken)], capture_output=True, text=True)
    assert result.returncode != 0


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck(script: Path) -> None:
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is missing: apt-get install shellcheck (scripts/debian-packages.txt)")
    result = subprocess.run(["shellcheck", "-x", "-P", str(DEPLOY), str(script)], capture_output=True, text=True, cwd=PROJECT)
    assert result.returncode == 0, result.stdout


def test_scripts_are_strict_and_executable() -> None:
    for script in SCRIPTS:
        if script.name == "lib.sh":  # sourced by scripts that set the options themselves
            continue
        assert "set -euo pipefail" in script.read_text(), script.name
        assert script.stat().st_mode & stat.S_IXUSR, script.name


def test_rerun_without_wheel_finds_the_same_release(project_wheel: Path, tmp_path: Path) -> None:
    """install.sh without --wheel builds the wheel from the source it runs from: twice from the
    same source must give the same bytes (so the same release), or re-running after a failed step
    refuses the "new" release. Found on the emulated Pi (make test-pi)."""
    again = build_wheel(PROJECT, tmp_path)
    assert again.read_bytes() == project_wheel.read_bytes()
