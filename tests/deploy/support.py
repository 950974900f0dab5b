"""Helpers for the deployment tests: the project's scripts, a built wheel, staged installs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

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
