"""One wheel of the project per test session: building it takes seconds, installing it less."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.support import PROJECT, build_wheel


@pytest.fixture(scope="session")
def project_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(PROJECT, tmp_path_factory.mktemp("wheel"))
