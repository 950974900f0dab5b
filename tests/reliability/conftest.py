"""The reliability suite reuses the sync tests' real reference service (on SQLite: its counts are
read from the file) and faulty proxy."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sync.conftest import Central, proxy, run_central  # noqa: F401  (proxy: a fixture, re-exported)


@pytest.fixture
def central(tmp_path: Path) -> Iterator[Central]:
    yield from run_central(tmp_path)
