"""Touchgate: an edge gateway for customer touchpoints."""

import sys

__version__ = "0.1.0"


def _import_sqlite_utils_without_numpy() -> None:
    """sqlite-utils imports numpy when it is installed, only to convert numpy scalars on insert,
    which the gateway never does; that costs ~28 MB of RSS on a Pi. Import it once with numpy
    hidden; numpy itself stays importable for the parts that need it (speech)."""
    if "sqlite_utils" in sys.modules or "numpy" in sys.modules:
        return
    sys.modules["numpy"] = None  # type: ignore[assignment]
    try:
        import sqlite_utils  # noqa: F401
    finally:
        del sys.modules["numpy"]


_import_sqlite_utils_without_numpy()
