"""Secrets as deploy/ keeps them: in /etc/touchgate/secrets.env (the unit's EnvironmentFile), never
in config.yaml and never on a command line. Real child processes: `touchgate check`/`status`
read the same file `touchgate run` gets from systemd; `ps` shows no secret of `touchgate run` or
of the profile service, and the secrets they read from the environment really are in use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from profile_service.launch import ProfileServiceProcess, service_command
from tests.support.mosquitto import Mosquitto, free_port

API_TOKEN = "4f9c2e7a1b8d6053e1c4a7f2b9d8e6c5"
SYNC_TOKEN = "9a7e3c1f5b2d8e4a6c0f7b3d1e9a5c2f"


def clean_env() -> dict[str, str]:
    """This machine's environment without any TOUCHGATE_/PROFILE_SERVICE_ variable (the secrets
    must come from the file under test, not from the test runner)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("TOUCHGATE_", "PROFILE_SERVICE_"))}


def touchgate(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args], capture_output=True, text=True, timeout=timeout,
        env=clean_env(), stdin=subprocess.DEVNULL,
    )


def deployed_config(folder: Path, broker: Mosquitto | None = None, api_port: int = 8787) -> Path:
    """config.yaml as deploy/ writes it (no secret in it) and secrets.env beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump({
        "site_id": "shop1",
        "mqtt": {"host": broker.host if broker else "127.0.0.1", "port": broker.port if broker else 1883},
        "store": {"path": str(folder / "touchgate.db")},
        "sync": {"url": "http://127.0.0.1:9/"},
        "api": {"enabled": True, "port": api_port},
    }))
    secrets_env = folder / "secrets.env"
    secrets_env.write_text(f"# written by install.sh\nTOUCHGATE_SYNC__TOKEN={SYNC_TOKEN}\nTOUCHGATE_API__TOKEN={API_TOKEN}\n")
    secrets_env.chmod(0o640)
    return config


def test_check_reads_the_secrets_the_unit_gives_run(tmp_path: Path) -> None:
    config = deployed_config(tmp_path / "etc")
    done = touchgate("check", "--config", str(config))
    assert done.returncode == 0 and "configuration OK" in done.stdout, done.stdout + done.stderr

    # Without the file, the same config is refused where the token is missing (what the arm64
    # proof found: check refused a config the service ran with).
    (tmp_path / "etc" / "secrets.env").rename(tmp_path / "kept.env")
    done = touchgate("check", "--config", str(config))
    assert done.returncode == 1 and "sync.token" in done.stdout
    # ... and an explicit --env-file brings it back; a named file that is missing is an error.
    assert touchgate("check", "--config", str(config), "--env-file", str(tmp_path / "kept.env")).returncode == 0
    missing = touchgate("check", "--config", str(config), "--env-file", str(tmp_path / "none.env"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr


@contextmanager
def running_touchgate(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "--config", str(config)],
            stdout=out, stderr=subprocess.STDOUT, env=clean_env(), stdin=subprocess.DEVNULL,
        )
        try:
            yield process
        finally:
            process.terminate()
            process.wait(30)


def get_status(url: str, token: str) -> int:
    request = urllib.request.Request(url + "/api/status", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up:\n{log.read_text()}")


def argv_seen_by_ps(pid: int) -> str:
    """What any user sees: `ps` (and /proc/PID/cmdline, which ps reads)."""
    listed = subprocess.run(["ps", "-ww", "-o", "args=", "-p", str(pid)], capture_output=True, text=True, check=True).stdout
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return listed + "\n" + cmdline


def test_run_and_status_take_the_token_from_the_file_and_ps_shows_no_secret(broker: Mosquitto, tmp_path: Path) -> None:
    port = free_port()
    config = deployed_config(tmp_path / "etc", broker, port)
    log = tmp_path / "run.log"
    url = f"http://127.0.0.1:{port}"
    with running_touchgate(config, log) as process:
        wait_http(url, process, log)
        seen = argv_seen_by_ps(process.pid)
        assert "gateway.cli run --config" in seen
        assert API_TOKEN not in seen and SYNC_TOKEN not in seen
        # The token in use is the file's: it opens the API, and a wrong one does not.
        assert get_status(url, API_TOKEN) == 200 and get_status(url, "0" * 32) == 401
        status = touchgate("status", "--config", str(config), "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["source"] == "gateway", status.stderr


def test_the_profile_service_takes_its_secrets_from_the_environment_only(tmp_path: Path) -> None:
    site_token, admin_token = "c3f1a9e7b5d2" * 3, "e8b6d4f2a0c9" * 3
    command = service_command(free_port(), tmp_path / "central.db", {"shop1": site_token}, admin_token=admin_token)
    with ProfileServiceProcess(command) as central:
        assert central.proc is not None and central.url is not None
        seen = argv_seen_by_ps(central.proc.pid)
        assert "profile_service" in seen and site_token not in seen and admin_token not in seen
        request = urllib.request.Request(central.url + "/v1/changes?since=0", headers={"Authorization": f"Bearer {site_token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
    refused = subprocess.run(
        [sys.executable, "-m", "profile_service", "--site-token", f"shop1={site_token}"],
        capture_output=True, text=True, timeout=30, env=clean_env(),
    )
    assert refused.returncode == 1 and "PROFILE_SERVICE_SITE_TOKENS" in refused.stderr


def test_status_takes_no_token_on_the_command_line() -> None:
    done = touchgate("status", "--token", API_TOKEN)
    assert done.returncode == 2 and "--token-file" in done.stderr and API_TOKEN not in done.stderr
