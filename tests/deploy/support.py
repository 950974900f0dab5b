"""Helpers for the deployment tests: the project's scripts, a built wheel, staged installs."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.mosquitto import find_mosquitto

PROJECT = Path(__file__).resolve().parents[2]
DEPLOY = PROJECT / "deploy"
PYTHON = sys.executable
# A staged venv is installed with --no-deps (tests reach no package index); it borrows the test
# environment's dependencies through PYTHONPATH. The editable install of the project there is a
# .pth file, which PYTHONPATH does not process, so `gateway` still comes from the staged wheel.
DEPENDENCIES = sysconfig.get_paths()["purelib"]


def run(args: Sequence[str | Path], env: Mapping[str, str] | None = None, check: bool = True, timeout: float = 180, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command; by default from a neutral folder, so `python -c` never imports the source
    tree from the working directory instead of what is installed."""
    merged = {**os.environ, **(env or {})}
    workdir = cwd or Path(tempfile.gettempdir())
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=merged, timeout=timeout, cwd=workdir)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def build_wheel(source: Path, out: Path) -> Path:
    """Build the project's wheel the way install.sh does (from a clean copy, offline)."""
    script = f'set -euo pipefail; SRC="{source}"; PYTHON="{PYTHON}"; source "{DEPLOY}/lib.sh"; build_wheel "{out}"'
    return Path(run(["bash", "-c", script]).stdout.strip())


def install(root: Path, wheel: Path, *extra: str, source: Path = PROJECT, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(
        [source / "deploy" / "install.sh", "--root", root, "--wheel", wheel, "--no-deps", "--python", PYTHON, *extra],
        check=check,
    )


def staged_env(root: Path, **values: str) -> dict[str, str]:
    """Environment for running the staged gateway: its dependencies, and the real paths in the
    staged config.yaml mapped into the staging root."""
    return {
        "PYTHONPATH": DEPENDENCIES,
        "TOUCHGATE_DEVICE_PROFILES_DIR": str(root / "opt/touchgate/current/device_profiles"),
        "TOUCHGATE_STORE__PATH": str(root / "var/lib/touchgate/touchgate.db"),
        "TOUCHGATE_RULES__DIR": str(root / "etc/touchgate/rules"),
        **values,
    }


def copy_source(target: Path) -> Path:
    """A copy of the source tree, as an operator unpacks a new release."""
    ignore = shutil.ignore_patterns(".venv", ".git", "tests", "__pycache__", "*.egg-info", "build", "dist", "*.db*")
    shutil.copytree(PROJECT, target, ignore=ignore)
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on port {port}")


@dataclass(frozen=True)
class Account:
    cls: str  # the broker.sh class: gateway, sensor, speaker, kiosk, ...
    name: str
    password: str
    site: str | None = None


@contextlib.contextmanager
def shop_broker(base: Path, accounts: Sequence[Account]) -> Iterator[int]:
    """A real Mosquitto configured by deploy/broker.sh (config, accounts, ACL; a CA from
    make-certs.sh for its TLS listeners) with these accounts; yields the loopback listener's port."""
    ca, conf_dir = base / "ca", base / "mosquitto"
    run([DEPLOY / "make-certs.sh", "--dir", ca, "ca"])
    run([DEPLOY / "make-certs.sh", "--dir", ca, "broker", "--name", "localhost", "--ip", "127.0.0.1"])
    broker = DEPLOY / "broker.sh"
    ports = free_port(), free_port(), free_port()
    run([broker, "certs", "--ca-dir", ca, "--conf-dir", conf_dir])
    run([broker, "config", "--conf-dir", conf_dir, "--out", base / "conf.d/touchgate.conf", "--bind", "127.0.0.1",
         "--loopback-port", ports[0], "--lan-port", ports[1], "--cert-port", ports[2]])
    for account in accounts:
        site = ["--site", account.site] if account.site else []
        run([broker, "account", account.cls, account.name, *site, "--password", account.password, "--conf-dir", conf_dir])
    # `user root`: pytest's temporary folders are private to root; the mosquitto user could not read them.
    main = base / "mosquitto.conf"
    main.write_text(f"user root\nlog_dest file {base}/mosquitto.log\ninclude_dir {base}/conf.d\n")
    proc = subprocess.Popen([find_mosquitto(), "-c", str(main)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for port in ports:
            wait_for_port(port)
        yield ports[0]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
