"""The set-based PostgreSQL path (COPY into staging, one statement per action) on a real
server: each action and index shape gives the same outcomes as the record-by-record path, and a
chunk it cannot apply whole is handed back untouched."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rota.data.connections import open_engine
from rota.data.targets.pg_bulk import PostgresBulk
from rota.data.targets.sql_table import Action, Record, Result, SqlTarget

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(postgres_target_url: str, tmp_path: Path) -> Iterator[Engine]:
    engine = open_engine(postgres_target_url, tmp_path)
    try:
        yield engine
    finally:
        engine.dispose()


def create(engine: Engine, name: str, ddl: str) -> str:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {name} ({ddl})")
    return name


def rows(engine: Engine, name: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {name}"))


def rec(number: int, **values: object) -> Record:
    return Record(number, dict(values))


def outcomes(results: list[Result]) -> list[tuple[str, str | None]]:
    return [(r.action, r.error) for r in results]


def bulk_applies(target: SqlTarget, records: list[Record]) -> bool:
    """Whether the set-based path took the chunk whole (not the record-by-record replay)."""
    bulk = target._bulk
    assert isinstance(bulk, PostgresBulk)
    results = [Result(r.number, target.key_of(r), "skipped") for r in records]
    return bulk.apply(records, results)


def test_upsert_on_a_primary_key_inserts_updates_and_leaves_unchanged(
    engine: Engine, table_name: str
) -> None:
    name = create(engine, table_name, "no INTEGER PRIMARY KEY, email TEXT, joined DATE")
    target = SqlTarget(engine, name, ["no", "email", "joined"], ["no"], Action.UPSERT)
    first = [
        rec(1, no=1, email="a", joined=dt.date(2026, 1, 1)),
        rec(2, no=2, email="b", joined=None),
    ]
    assert outcomes(target.apply(first)) == [("inserted", None)] * 2
    second = [
        rec(1, no=1, email="a", joined=dt.date(2026, 1, 1)),
        rec(2, no=2, email="b", joined=dt.date(2026, 2, 2)),
        rec(3, no=3, email="c", joined=None),
    ]
    assert [r.action for r in target.apply(second)] == ["unchanged", "updated", "inserted"]
    assert rows(engine, name) == [
        (1, "a", dt.date(2026, 1, 1)),
        (2, "b", dt.date(2026, 2, 2)),
        (3, "c", None),
    ]
    assert bulk_applies(target, second)


def test_upsert_without_a_unique_index_updates_then_inserts(
    engine: Engine, table_name: str
) -> None:
    name = create(engine, table_name, "code TEXT, year INTEGER, amount NUMERIC(8,2)")
    target = SqlTarget(engine, name, ["code", "year", "amount"], ["code", "year"], Action.UPSERT)
    target.apply([rec(1, code="x", year=2025, amount=10)])
    results = target.apply(
        [rec(1, code="x", year=2025, amount="10.00"), rec(2, code="x", year=2026, amount=12.5)]
    )
    assert [r.action for r in results] == ["unchanged", "inserted"]
    results = target.apply([rec(1, code="x", year=2025, amount=11)])
    assert [r.action for r in results] == ["updated"]
    assert [(c, y, float(str(a))) for c, y, a in rows(engine, name)] == [
        ("x", 2025, 11.0),
        ("x", 2026, 12.5),
    ]


def test_insert_update_and_delete_follow_their_rules(engine: Engine, table_name: str) -> None:
    name = create(engine, table_name, "no INTEGER PRIMARY KEY, email TEXT")
    insert = SqlTarget(engine, name, ["no", "email"], ["no"], Action.INSERT)
    assert [r.action for r in insert.apply([rec(1, no=1, email="a")])] == ["inserted"]
    assert outcomes(insert.apply([rec(1, no=1, email="z"), rec(2, no=2, email="b")])) == [
        ("failed", "a record with this key already exists"),
        ("inserted", None),
    ]
    update = SqlTarget(engine, name, ["no", "email"], ["no"], Action.UPDATE)
    assert [r.action for r in update.apply([rec(1, no=1, email="A"), rec(9, no=9, email="n")])] == [
        "updated",
        "skipped",
    ]
    delete = SqlTarget(engine, name, ["no"], ["no"], Action.DELETE)
    assert [r.action for r in delete.apply([rec(2, no=2), rec(8, no=8)])] == ["deleted", "skipped"]
    assert rows(engine, name) == [(1, "A")]


def test_keys_only_upsert_does_nothing_on_conflict(engine: Engine, table_name: str) -> None:
    name = create(engine, table_name, "no INTEGER PRIMARY KEY")
    target = SqlTarget(engine, name, ["no"], ["no"], Action.UPSERT)
    assert [r.action for r in target.apply([rec(1, no=1)])] == ["inserted"]
    assert [r.action for r in target.apply([rec(1, no=1), rec(2, no=2)])] == [
        "unchanged",
        "inserted",
    ]
    assert rows(engine, name) == [(1,), (2,)]


def test_an_empty_key_fails_its_record_and_the_rest_goes_through(
    engine: Engine, table_name: str
) -> None:
    name = create(engine, table_name, "no INTEGER PRIMARY KEY, email TEXT")
    target = SqlTarget(engine, name, ["no", "email"], ["no"], Action.UPSERT)
    results = target.apply([rec(1, no=None, email="a"), rec(2, no=2, email="b")])
    assert outcomes(results) == [("failed", "a match key is empty"), ("inserted", None)]


def test_a_chunk_copy_refuses_is_replayed_record_by_record(engine: Engine, table_name: str) -> None:
    name = create(engine, table_name, "no INTEGER PRIMARY KEY, age INTEGER")
    target = SqlTarget(engine, name, ["no", "age"], ["no"], Action.UPSERT)
    chunk = [rec(1, no=1, age="41"), rec(2, no=2, age="forty")]
    assert not bulk_applies(target, chunk)
    assert rows(engine, name) == []  # the refused chunk left nothing behind
    results = target.apply(chunk)
    assert results[0].action == "inserted"
    assert results[1].action == "failed"
    assert "invalid input syntax for type integer" in (results[1].error or "")
    assert rows(engine, name) == [(1, 41)]


def test_a_constraint_breach_hands_the_chunk_back(engine: Engine, table_name: str) -> None:
    name = create(engine, table_name, "no INTEGER PRIMARY KEY, email TEXT NOT NULL")
    target = SqlTarget(engine, name, ["no", "email"], ["no"], Action.UPSERT)
    chunk = [rec(1, no=1, email="a"), rec(2, no=2, email=None)]
    assert not bulk_applies(target, chunk)
    assert rows(engine, name) == []
    assert [r.action for r in target.apply(chunk)] == ["inserted", "failed"]
    assert rows(engine, name) == [(1, "a")]


def test_a_column_named_like_the_staging_row_column_and_a_schema(
    engine: Engine, table_name: str
) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS s_{table_name}")
    name = create(engine, f"s_{table_name}.{table_name}", "rota_row INTEGER PRIMARY KEY, v TEXT")
    target = SqlTarget(engine, name, ["rota_row", "v"], ["rota_row"], Action.UPSERT)
    records = [rec(7, rota_row=100, v="x"), rec(8, rota_row=200, v="y")]
    assert [r.action for r in target.apply(records)] == ["inserted", "inserted"]
    assert [r.action for r in target.apply(records)] == ["unchanged", "unchanged"]
    assert rows(engine, name) == [(100, "x"), (200, "y")]


def test_a_second_connection_reuses_nothing_it_should_not(engine: Engine, table_name: str) -> None:
    """The staging table lives per session and empties at commit: chunks never see each
    other's rows, whichever pooled connection they get."""
    name = create(engine, table_name, "no INTEGER PRIMARY KEY, email TEXT")
    target = SqlTarget(engine, name, ["no", "email"], ["no"], Action.UPSERT)
    for start in range(0, 50, 10):
        chunk = [rec(n, no=n, email=f"e{n}") for n in range(start, start + 10)]
        assert {r.action for r in target.apply(chunk)} == {"inserted"}
    with engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar() == 50
