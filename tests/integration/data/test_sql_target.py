"""The SQL table target on real SQLite and PostgreSQL: every action, unchanged detection,
dry runs that leave nothing behind, per-record constraint failures, and names checked against
the database's own schema."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rota.data.targets.sql_table import Action, Record, SqlTarget
from rota.model.errors import InvalidInputError

COLUMNS = ["member_no", "email", "joined", "country"]


@pytest.fixture
def table(target_engine: Engine, table_name: str) -> str:
    with target_engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {table_name} (member_no INTEGER PRIMARY KEY, email TEXT NOT NULL,"
            " joined DATE, country TEXT)"
        )
    return table_name


def member(n: int, **changes: object) -> Record:
    values = {"member_no": n, "email": f"m{n}@example.org", "joined": dt.date(2026, 1, n)}
    values["country"] = "DE"
    values.update(changes)
    return Record(n, values)


def rows(engine: Engine, table: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY 1")]


def target(engine: Engine, table: str, action: Action, columns: list[str] = COLUMNS) -> SqlTarget:
    return SqlTarget(engine, table, columns, ["member_no"], action)


def actions(results: list) -> list[str]:  # type: ignore[type-arg]
    return [r.action for r in results]


def test_upsert_inserts_then_finds_everything_unchanged(target_engine: Engine, table: str) -> None:
    upsert = target(target_engine, table, Action.UPSERT)
    assert actions(upsert.apply([member(1), member(2)])) == ["inserted", "inserted"]
    assert actions(upsert.apply([member(1), member(2)])) == ["unchanged", "unchanged"]
    preview = upsert.apply([member(1, email="new@example.org"), member(3)], dry_run=True)
    assert preview[0].changes == {"email": ("m1@example.org", "new@example.org")}
    results = upsert.apply([member(1, email="new@example.org"), member(3)])
    assert actions(results) == ["updated", "inserted"]
    assert [r[1] for r in rows(target_engine, table)] == [
        "new@example.org",
        "m2@example.org",
        "m3@example.org",
    ]


def test_a_dry_run_reports_and_leaves_the_table_as_it_was(
    target_engine: Engine, table: str
) -> None:
    upsert = target(target_engine, table, Action.UPSERT)
    upsert.apply([member(1)])
    before = rows(target_engine, table)
    results = upsert.apply([member(1, country="FR"), member(2)], dry_run=True)
    assert actions(results) == ["updated", "inserted"]
    assert results[0].changes == {"country": ("DE", "FR")}
    assert rows(target_engine, table) == before


def test_insert_update_and_delete_follow_their_rules(target_engine: Engine, table: str) -> None:
    target(target_engine, table, Action.INSERT).apply([member(1)])
    inserted = target(target_engine, table, Action.INSERT).apply([member(1), member(2)])
    assert [(r.action, r.error) for r in inserted] == [
        ("failed", "a record with this key already exists"),
        ("inserted", None),
    ]
    updated = target(target_engine, table, Action.UPDATE).apply(
        [member(2, country="NL"), member(9)]
    )
    assert actions(updated) == ["updated", "skipped"]
    deleted = SqlTarget(target_engine, table, ["member_no"], ["member_no"], Action.DELETE).apply(
        [Record(1, {"member_no": 1}), Record(2, {"member_no": 99})]
    )
    assert actions(deleted) == ["deleted", "skipped"]
    assert [r[0] for r in rows(target_engine, table)] == [2]


def test_a_constraint_fails_only_its_record(target_engine: Engine, table: str) -> None:
    results = target(target_engine, table, Action.UPSERT).apply(
        [member(1), member(2, email=None), member(3)]
    )
    assert actions(results) == ["inserted", "failed", "inserted"]
    assert results[1].error is not None and "email" in results[1].error
    assert [r[0] for r in rows(target_engine, table)] == [1, 3]


def test_an_empty_match_key_fails_the_record(target_engine: Engine, table: str) -> None:
    results = target(target_engine, table, Action.UPSERT).apply([member(1, member_no=None)])
    assert [(r.action, r.error) for r in results] == [("failed", "a match key is empty")]


@pytest.mark.parametrize(
    ("table_arg", "columns", "field"),
    [
        ("members; DROP TABLE x", COLUMNS, "target.table"),
        (None, [*COLUMNS, 'email"; --'], 'mapping.email"; --'),
        (None, ["email", "nope"], "mapping.nope"),
    ],
)
def test_names_must_exist_in_the_database(
    target_engine: Engine, table: str, table_arg: str | None, columns: list[str], field: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        SqlTarget(target_engine, table_arg or table, columns, [], Action.INSERT)
    assert caught.value.field == field
    assert sa.inspect(target_engine).has_table(table)


def test_match_keys_must_be_mapped_and_are_required_for_updates(
    target_engine: Engine, table: str
) -> None:
    with pytest.raises(InvalidInputError, match="must be a mapped column"):
        SqlTarget(target_engine, table, ["email"], ["member_no"], Action.UPSERT)
    with pytest.raises(InvalidInputError, match="update needs match keys"):
        SqlTarget(target_engine, table, COLUMNS, [], Action.UPDATE)
