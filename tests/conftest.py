"""Shared fixtures: a real Mosquitto per test (or module), real SQLite files in tmp_path, and a
real PostgreSQL cluster (one per session, a fresh database per test) where a test asks for one."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mosquitto import Mosquitto
from tests.support.postgres import PostgresCluster, find_bindir

_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    if find_bindir() is None:
        pytest.skip("PostgreSQL's initdb and pg_ctl are missing (/usr/lib/postgresql/*/bin): `make venv` installs them")
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture
def postgres_url(postgres: PostgresCluster) -> str:
    """A new, empty database of the session's cluster: its postgresql:// URL."""
    return postgres.create_database(f"test_{next(_database_numbers)}")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "broker") as mosq:
        yield mosq
