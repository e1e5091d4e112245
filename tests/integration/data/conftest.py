"""Target databases for data jobs: a SQLite file per test, one PostgreSQL database per session
(each test uses its own table names there)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from tests.conftest import _create_database, _drop_database, _name_prefix

from rota.data.connections import open_engine

_tables = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_target_url(postgres_url: str) -> Iterator[str]:
    name = f"rota_t_{_name_prefix()}"
    url = _create_database(postgres_url, name)
    try:
        yield url
    finally:
        _drop_database(postgres_url, name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/target.db"
    url: str = request.getfixturevalue("postgres_target_url")
    return url


@pytest.fixture
def target_engine(target_url: str, tmp_path: Path) -> Iterator[Engine]:
    engine = open_engine(target_url, tmp_path)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def table_name() -> str:
    """A table name no other test of the session uses."""
    return f"members_{next(_tables)}"
