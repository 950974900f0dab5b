"""The real `wyoming-satellite` program, unmodified, in a venv of its own (it pins an older
`wyoming` than the gateway's). `make venv` (and so `make test`) builds it from
scripts/wyoming-satellite-requirements.txt into .venv/wyoming-satellite; the tests only look for
it. It runs as `python -m wyoming_satellite` (the 1.0.0 console script is broken)."""

from __future__ import annotations

from pathlib import Path

from gateway.config.settings import PROJECT_ROOT

VENV = PROJECT_ROOT / ".venv" / "wyoming-satellite"
REQUIREMENTS = PROJECT_ROOT / "scripts" / "wyoming-satellite-requirements.txt"


def satellite_python() -> Path | None:
    """The venv's python, or None when `make venv` has not built it for today's pins (the stamp
    is a copy of the requirements it was built from)."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".installed"
    if not python.exists() or not stamp.exists() or stamp.read_bytes() != REQUIREMENTS.read_bytes():
        return None
    return python


MISSING = (
    f"the wyoming-satellite program is not installed in {VENV} for the pins in {REQUIREMENTS.name}: "
    "run `make venv` (it builds it; needs PyPI once)"
)
