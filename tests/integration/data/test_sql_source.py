"""An SQL query as a data job's source, on real SQLite and PostgreSQL: bound parameters,
one read-only statement, streaming."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rota.data.records import SourceError
from rota.data.sources import check_source_config, open_source
from rota.model.errors import InvalidInputError


@pytest.fixture
def table(target_engine: Engine, table_name: str) -> str:
    with target_engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {table_name} (n INTEGER, name TEXT)")
        conn.execute(
            sa.text(f"INSERT INTO {table_name} VALUES (:n, :name)"),
            [{"n": i, "name": "O'Brien" if i == 3 else f"m{i}"} for i in range(1, 20_001)],
        )
    return table_name


def source(engine: Engine, query: str, **options: object) -> dict[str, object]:
    return {"type": "sql", "connection": "crm", "query": query, **options}


def open_sql(engine: Engine, config: dict[str, object]):  # type: ignore[no-untyped-def]
    return open_source(config, [Path("/nonexistent")], engines=lambda _name: engine)


def test_it_streams_every_row_in_order_with_its_fields(target_engine: Engine, table: str) -> None:
    config = source(target_engine, f"SELECT n, name FROM {table} ORDER BY n", batch_size=100)
    with open_sql(target_engine, config) as rows_source:
        assert rows_source.fields == ["n", "name"]
        rows = list(rows_source.rows())
    assert len(rows) == 20_000
    assert [r.number for r in rows[:3]] == [1, 2, 3]
    assert rows[-1].values == {"n": 20_000, "name": "m20000"}


def test_parameters_are_bound_not_formatted(target_engine: Engine, table: str) -> None:
    config = source(
        target_engine, f"SELECT n FROM {table} WHERE name = :name", params={"name": "O'Brien"}
    )
    with open_sql(target_engine, config) as rows_source:
        assert [r.values for r in rows_source.rows()] == [{"n": 3}]


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ({"query": "SELECT 1; DROP TABLE {t}"}, "source.query", "one statement"),
        ({"query": "DELETE FROM {t}"}, "source.query", "SELECT"),
        ({"query": "SELECT * FROM {t} WHERE n = :n"}, "source.params", "no value for :n"),
        ({"query": "SELECT * FROM {t}", "params": {"n": 1}}, "source.params", "not used"),
        ({"query": "SELECT 1", "batch_size": 0}, "source.batch_size", "between"),
        ({"query": "SELECT 1", "connection": ""}, "source.connection", "required"),
        ({"query": "SELECT 1", "path": "x.csv"}, "source.path", "not an option"),
    ],
)
def test_what_is_not_one_bound_read_only_query_is_refused(
    target_engine: Engine, table: str, options: dict[str, object], field: str, words: str
) -> None:
    config = {"type": "sql", "connection": "crm", **options}
    config["query"] = str(config["query"]).format(t=table)
    with pytest.raises(InvalidInputError) as caught:
        check_source_config(config)
    assert caught.value.field == field
    assert words in caught.value.reason
    assert sa.inspect(target_engine).has_table(table)


def test_a_failing_query_is_a_source_error(target_engine: Engine) -> None:
    with pytest.raises(SourceError, match="the query failed"):
        open_sql(target_engine, source(target_engine, "SELECT * FROM no_such_table"))


def test_without_connections_it_says_so(target_engine: Engine) -> None:
    with pytest.raises(InvalidInputError) as caught:
        open_source(source(target_engine, "SELECT 1"), [Path("/nonexistent")])
    assert caught.value.field == "source.connection"
