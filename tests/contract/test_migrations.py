"""The Alembic migrations build exactly the schema of ``rota.store.schema``, on both dialects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from rota.model.errors import StoreUnavailableError
from rota.store import Store, open_store
from rota.store.migrate import MIGRATIONS, downgrade, upgrade
from rota.store.schema import metadata
from rota.store.sql import SqlStore

TABLES = {t.name for t in metadata.sorted_tables}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """A store on a database without any table."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/fresh.db"
    else:
        url = request.getfixturevalue("empty_postgres_database")
    store = open_store(url)
    try:
        assert isinstance(store, SqlStore)
        yield store
    finally:
        store.close()


def _schema_diff(store: SqlStore) -> list[Any]:
    with store._engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def _tables(store: SqlStore) -> set[str]:
    with store._engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def _revision(store: SqlStore) -> str | None:
    with store._engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _head() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def _smoke(store: Store) -> None:
    from datetime import UTC, datetime

    from rota.model.jobs import JobDefinition, JobKind

    now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    store.sync_jobs([JobDefinition(id="smoke", kind=JobKind.SHELL)], now)
    assert [j.id for j in store.list_jobs()] == ["smoke"]


def test_it_migrates_a_fresh_database_to_exactly_the_declared_schema(
    empty_store: SqlStore,
) -> None:
    assert _tables(empty_store) == set()

    empty_store.upgrade()

    assert _tables(empty_store) == TABLES | {"alembic_version"}
    assert _revision(empty_store) == _head()
    assert _schema_diff(empty_store) == []


def test_it_upgrades_idempotently(empty_store: SqlStore) -> None:
    empty_store.upgrade()
    _smoke(empty_store)

    empty_store.upgrade()

    assert _revision(empty_store) == _head()
    assert _schema_diff(empty_store) == []
    assert [j.id for j in empty_store.list_jobs()] == ["smoke"]


def test_it_downgrades_to_base_and_upgrades_again(empty_store: SqlStore) -> None:
    empty_store.upgrade()
    _smoke(empty_store)

    downgrade(empty_store._engine, "base")

    assert _tables(empty_store) <= {"alembic_version"}
    assert _revision(empty_store) is None

    upgrade(empty_store._engine)

    assert _revision(empty_store) == _head()
    assert _schema_diff(empty_store) == []
    assert empty_store.list_jobs() == []
    _smoke(empty_store)


def test_a_schema_from_a_newer_rota_is_refused_with_a_message(empty_store: SqlStore) -> None:
    """A rolling upgrade: an older process meeting a database a newer Rota migrated stops
    with a message that says what to do, and touches nothing."""
    empty_store.upgrade()
    with empty_store._engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreUnavailableError) as caught:
        upgrade(empty_store._engine)
    assert "newer than this Rota knows" in str(caught.value)
    assert f"up to revision {_head()}" in str(caught.value)
    assert _revision(empty_store) == "9999"
