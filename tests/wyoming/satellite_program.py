"""The real `wyoming-satellite` program, unmodified, in a venv of its own (it pins an older
`wyoming` than the gateway's). Created once from PyPI and kept under the project's .venv, so
later runs reuse it; `python -m wyoming_satellite` (the 1.0.0 console script is broken)."""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

from gateway.config.settings import PROJECT_ROOT

VERSION = "1.0.0"
VENV = PROJECT_ROOT / ".venv" / f"wyoming-satellite-{VERSION}"


def satellite_python() -> Path:
    python = VENV / "bin" / "python"
    stamp = VENV / ".installed"
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / ".wyoming-satellite.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test runs build it once
        if not stamp.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"wyoming-satellite=={VERSION}"], check=True, timeout=600)
            stamp.touch()
    return python
