"""Fixtures shared by every test: a fixed clock, and stores on SQLite and PostgreSQL.

PostgreSQL tests need ``ROTA_TEST_POSTGRES_URL`` (a server URL whose user may create
databases). Each test gets its own database, copied from a template migrated once per test
session (and per xdist worker), so a test never sees another's rows and never waits for
migrations.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

from rota.store import Store, open_store
from rota.store.schema import metadata

POSTGRES_URL_VARIABLE = "ROTA_TEST_POSTGRES_URL"

_database_numbers = itertools.count(1)


def _name_prefix() -> str:
    """Unique per xdist worker and per session, so parallel runs never share a database."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"{worker}_{os.getpid()}"


def _libpq_url(url: str) -> str:
    """The server URL as psycopg takes it (SQLAlchemy URLs may name a driver)."""
    return (
        sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def _with_database(url: str, database: str) -> str:
    return sa.engine.make_url(url).set(database=database).render_as_string(hide_password=False)


def _admin(postgres_url: str, statement: sql.Composed) -> None:
    with psycopg.connect(_libpq_url(postgres_url), autocommit=True) as conn:
        conn.execute(statement)


def _create_database(postgres_url: str, name: str, *, template: str | None = None) -> str:
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
    _admin(postgres_url, statement)
    return _with_database(postgres_url, name)


def _drop_database(postgres_url: str, name: str) -> None:
    _admin(
        postgres_url,
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
    )


# -- time ------------------------------------------------------------------------------------


@pytest.fixture
def now() -> datetime:
    """The fixed "current time" of a test: time is a parameter, tests never sleep."""
    return datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


# -- PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{POSTGRES_URL_VARIABLE} is not set; CI must run the PostgreSQL tests")
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_URL_VARIABLE}, e.g. "
            f"{POSTGRES_URL_VARIABLE}=postgresql://postgres@127.0.0.1:5432/postgres make test"
        )
    return url


@pytest.fixture(scope="session")
def postgres_template(postgres_url: str) -> Iterator[str]:
    """A database migrated to head once per session; tests copy it with CREATE ... TEMPLATE."""
    name = f"rota_tpl_{_name_prefix()}"
    _drop_database(postgres_url, name)
    url = _create_database(postgres_url, name)
    try:
        store = open_store(url)
        try:
            store.upgrade()
        finally:
            store.close()
        yield name
    finally:
        _drop_database(postgres_url, name)


@pytest.fixture
def postgres_database(postgres_url: str, postgres_template: str) -> Iterator[str]:
    """URL of a migrated database that is empty when the test starts.

    One database per session (and xdist worker), emptied with TRUNCATE before each test:
    ``CREATE DATABASE ... TEMPLATE`` costs about two seconds here (it writes the whole copy
    to the WAL), TRUNCATE a few milliseconds.
    """
    url = _with_database(postgres_url, postgres_template)
    tables = sql.SQL(", ").join(sql.Identifier(table.name) for table in metadata.sorted_tables)
    _terminate_other_sessions(url)
    with psycopg.connect(_libpq_url(url), autocommit=True) as conn:
        conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY").format(tables))
        # What the migrations seed, as a freshly migrated database has it.
        conn.execute(
            "INSERT INTO tenants (id, name, service_account, created_at) "
            "VALUES ('default', 'default', '', now())"
        )
    yield url
    _terminate_other_sessions(url)


def _terminate_other_sessions(url: str) -> None:
    """Connections a test leaked (a killed worker's) must not hold locks into the next test."""
    with psycopg.connect(_libpq_url(url), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def empty_postgres_database(postgres_url: str) -> Iterator[str]:
    """URL of a fresh database without any table (for migration tests)."""
    name = f"rota_e_{_name_prefix()}_{next(_database_numbers)}"
    url = _create_database(postgres_url, name)
    try:
        yield url
    finally:
        _drop_database(postgres_url, name)


# -- stores ----------------------------------------------------------------------------------

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the ``store`` of this test lives; one test per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/rota.db"
    url: str = request.getfixturevalue("postgres_database")
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated, empty store (parametrized: ``sqlite`` and ``postgresql``)."""
    opened = open_store(database_url)
    try:
        if opened.url.startswith("sqlite"):
            opened.upgrade()
        yield opened
    finally:
        opened.close()


@pytest.fixture
def open_peer(store: Store, database_url: str) -> Iterator[Callable[[], Store]]:
    """Open more store objects on the ``store``'s database (another process, another node)."""
    peers: list[Store] = []

    def _open() -> Store:
        peer = open_store(database_url)
        peers.append(peer)
        return peer

    yield _open
    for peer in peers:
        peer.close()
