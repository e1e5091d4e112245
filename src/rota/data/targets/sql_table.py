"""A table on a named SQL connection as the target of insert, update, upsert and delete.

Names are never trusted: the table and every mapped column must exist in the database's own
schema (introspected before anything runs), and statements are built from the reflected
``Table``, so names are quoted by SQLAlchemy and values are always bound parameters.

A chunk is applied in one short transaction: existing rows for the chunk's keys are read once,
each record is classified (``inserted``, ``updated`` with its changed fields, ``unchanged``,
``deleted``, ``skipped``), then written with ``executemany``. When the batch write fails (a
constraint), the chunk is replayed record by record under savepoints so that only the bad
records fail, each with the database's reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rota.data.connections import WRITER
from rota.data.targets.pg_bulk import PostgresBulk
from rota.model.errors import InvalidInputError


class Action(StrEnum):
    INSERT = "insert"
    UPDATE = "update"
    UPSERT = "upsert"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Record:
    """A mapped record: its source row number and the target column values."""

    number: int
    values: dict[str, Any]
    key: str | None = None
    """How results name it, when the caller already worked it out (see ``key_of``)."""


@dataclass(slots=True)
class Result:
    number: int
    key: str
    action: str
    """``inserted``, ``updated``, ``unchanged``, ``deleted``, ``skipped`` or ``failed``."""
    error: str | None = None
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """``updated``: column -> (before, after), for the preview of a dry run (always filled
    then; the set-based path of real PostgreSQL runs does not read rows back to fill it)."""


class SqlTarget:
    def __init__(
        self,
        engine: Engine,
        table: str,
        columns: Sequence[str],
        match: Sequence[str],
        action: Action,
    ) -> None:
        self.engine = engine
        self.action = action
        self.match = list(match)
        self.table = _reflect(engine, table)
        known = {c.name for c in self.table.columns}
        for name in columns:
            if name not in known:
                raise InvalidInputError(
                    f"mapping.{name}", f"table {table!r} has no column {name!r}"
                )
        for name in self.match:
            if name not in known:
                raise InvalidInputError("match", f"table {table!r} has no column {name!r}")
            if name not in columns:
                raise InvalidInputError("match", f"{name!r} must be a mapped column")
        if action is not Action.INSERT and not self.match:
            raise InvalidInputError("match", f"{action.value} needs match keys")
        self.columns = list(columns)
        self._insert, self._update, self._delete = self._statements()
        self._bind = self._params(self.columns)
        self._keys_at = [self.columns.index(k) for k in self.match]
        self._values_at = [i for i, c in enumerate(self.columns) if c not in self.match]
        self._selects: dict[int, str] = {}
        self._single_key = self.match[0] if len(self.match) == 1 else None
        self._bulk = (
            PostgresBulk(engine, self.table, self.columns, self.match, action)
            if engine.dialect.name == "postgresql"
            else None
        )

    def key_of(self, record: Record) -> str:
        """How record results name a record: ``member_no=1042`` (its row number without keys)."""
        if record.key is not None:
            return record.key
        if not self.match:
            return f"row {record.number}"
        if self._single_key is not None:
            return f"{self._single_key}={record.values.get(self._single_key)}"
        return ", ".join([f"{k}={record.values.get(k)}" for k in self.match])

    def apply(self, records: Sequence[Record], *, dry_run: bool = False) -> list[Result]:
        """Apply one chunk; with ``dry_run`` everything happens and is rolled back.

        On PostgreSQL a chunk goes the set-based way first (``COPY`` and one statement per
        action); a dry run, which must show each change, and a chunk the set-based way refuses
        go record by record."""
        if self._bulk is not None and not dry_run:
            results = [Result(r.number, self.key_of(r), "skipped") for r in records]
            keyed = [
                (record, result)
                for record, result in zip(records, results, strict=True)
                if not self._missing_key(record, result)
            ]
            if self._bulk.apply([r for r, _ in keyed], [r for _, r in keyed]):
                return results
        with self.engine.connect().execution_options(**{WRITER: True}) as conn:
            transaction = conn.begin()
            try:
                results = self._apply_in(conn, records)
                if dry_run:
                    transaction.rollback()
                else:
                    transaction.commit()
            except Exception:
                # A commit SQLite refused ("database is locked") leaves its transaction open
                # on the connection; a pooled connection holding a write lock would block
                # every later writer, so it is discarded, not returned.
                conn.invalidate()
                raise
        return results

    def _apply_in(self, conn: Connection, records: Sequence[Record]) -> list[Result]:
        """Classify and write a chunk, comparing in the driver's terms: each record's values
        pass through the columns' bind processors once, and a stored row equal to them as a
        tuple is unchanged without looking at a single column."""
        bind = self._bind
        keys_at, values_at = self._keys_at, self._values_at
        bound: list[tuple[Record, Result, tuple[Any, ...]]] = []
        results: list[Result] = []
        for record in records:
            result = Result(record.number, self.key_of(record), "skipped")
            results.append(result)
            if not self._missing_key(record, result):
                bound.append((record, result, bind(record)))
        existing = self._existing(conn, [p for _, _, p in bound]) if self.match else {}
        inserts: list[tuple[tuple[Any, ...], Result]] = []
        updates: list[tuple[tuple[Any, ...], Result]] = []
        deletes: list[tuple[tuple[Any, ...], Result]] = []
        action = self.action
        for _record, result, params in bound:
            key = tuple([params[i] for i in keys_at])
            before = existing.get(key) if existing else None
            if action is Action.DELETE:
                if before is not None:
                    result.action = "deleted"
                    deletes.append((key, result))
                continue
            if before is None:
                if action is not Action.UPDATE:  # an update of nothing is skipped
                    result.action = "inserted"
                    inserts.append((params, result))
                continue
            if action is Action.INSERT:
                result.action, result.error = "failed", "a record with this key already exists"
                continue
            if before == params:
                result.action = "unchanged"
                continue
            changes = {
                self.columns[i]: (before[i], params[i])
                for i in values_at
                if not _same(before[i], params[i])
            }
            result.action = "updated" if changes else "unchanged"
            result.changes = changes
            if changes:
                updates.append((tuple([params[i] for i in values_at]) + key, result))
        self._write(conn, self._insert, inserts)
        self._write(conn, self._update, updates)
        self._write(conn, self._delete, deletes)
        return results

    def _missing_key(self, record: Record, result: Result) -> bool:
        if self._single_key is not None:
            missing = record.values.get(self._single_key) is None
        else:
            missing = any(record.values.get(k) is None for k in self.match)
        if missing:
            result.action, result.error = "failed", "a match key is empty"
            return True
        return False

    # -- statements ------------------------------------------------------------------------

    def _existing(
        self, conn: Connection, bound: Sequence[tuple[Any, ...]]
    ) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        """Stored rows (mapped columns, driver values) by key, for the keys of ``bound``."""
        keys_at = self._keys_at
        keys = list({tuple([params[i] for i in keys_at]) for params in bound})
        found: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for start in range(0, len(keys), _SELECT_BATCH):
            part = keys[start : start + _SELECT_BATCH]
            statement = self._select_many(len(part))
            flat = [value for key in part for value in key]
            for row in conn.exec_driver_sql(statement, tuple(flat)):
                stored = tuple(row)
                found[tuple([stored[i] for i in keys_at])] = stored
        return found

    def _select_many(self, count: int) -> str:
        """``SELECT <columns> FROM <table> WHERE <keys> IN (...)`` for ``count`` keys."""
        if count not in self._selects:
            prepare = self.engine.dialect.identifier_preparer
            mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
            columns = ", ".join(prepare.quote(c) for c in self.columns)
            if len(self.match) == 1:
                where = f"{prepare.quote(self.match[0])} IN ({', '.join([mark] * count)})"
            else:
                row = f"({', '.join([mark] * len(self.match))})"
                names = ", ".join(prepare.quote(k) for k in self.match)
                where = f"({names}) IN (VALUES {', '.join([row] * count)})"
            self._selects[count] = (
                f"SELECT {columns} FROM {prepare.format_table(self.table)} WHERE {where}"
            )
        return self._selects[count]

    def _statements(self) -> tuple[str, str, str]:
        """INSERT, UPDATE and DELETE as driver SQL with positional parameters, built once:
        SQLAlchemy's per-row parameter processing cost more than SQLite's insert itself."""
        prepare = self.engine.dialect.identifier_preparer
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        table = prepare.format_table(self.table)
        keys = " AND ".join(f"{prepare.quote(k)} = {mark}" for k in self.match) or "1 = 0"
        values = [c for c in self.columns if c not in self.match]
        insert = (
            f"INSERT INTO {table} ({', '.join(prepare.quote(c) for c in self.columns)}) "
            f"VALUES ({', '.join([mark] * len(self.columns))})"
        )
        update = (
            f"UPDATE {table} SET {', '.join(f'{prepare.quote(c)} = {mark}' for c in values)} "
            f"WHERE {keys}"
        )
        delete = f"DELETE FROM {table} WHERE {keys}"
        return insert, update, delete

    def _params(self, columns: Sequence[str]) -> Callable[[Record], tuple[Any, ...]]:
        """Record -> driver parameters for ``columns``, through each column type's bind
        processor (SQLite stores dates as ISO text, decimals as numbers)."""
        dialect = self.engine.dialect
        steps = [
            (name, self.table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in columns
        ]
        if all(process is None for _, process in steps):
            names = list(columns)
            return lambda record: tuple([record.values[n] for n in names])

        def params(record: Record) -> tuple[Any, ...]:
            values = record.values
            return tuple(
                [
                    values[name] if process is None else process(values[name])
                    for name, process in steps
                ]
            )

        return params

    def _write(
        self,
        conn: Connection,
        statement: str,
        items: list[tuple[tuple[Any, ...], Result]],
    ) -> None:
        """``executemany``; on failure, one savepoint per record finds the bad ones."""
        if not items:
            return
        savepoint = conn.begin_nested()
        try:
            conn.exec_driver_sql(statement, [params for params, _ in items])
            savepoint.commit()
            return
        except sa.exc.DBAPIError:
            savepoint.rollback()
        for params, result in items:
            one = conn.begin_nested()
            try:
                conn.exec_driver_sql(statement, params)
                one.commit()
            except sa.exc.DBAPIError as exc:
                one.rollback()
                result.action, result.error = "failed", _reason(exc)
                result.changes = {}


_SELECT_BATCH = 500
"""Keys per lookup query (SQLite allows 32,766 parameters; composite keys use several)."""


def _reflect(engine: Engine, name: str) -> sa.Table:
    inspector = sa.inspect(engine)
    schema, _, table = name.rpartition(".")
    if table not in inspector.get_table_names(schema=schema or None):
        raise InvalidInputError("target.table", f"no table {name!r} in the target database")
    return sa.Table(table, sa.MetaData(), schema=schema or None, autoload_with=engine)


def _comparable(value: Any) -> Any:
    """Numbers compare by value across drivers (``1``, ``1.0`` and ``Decimal('1')`` are one
    key); text stays text (``'007'`` is not ``7``)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return value
    as_float = float(value)
    return int(as_float) if as_float.is_integer() else as_float


def _same(before: Any, after: Any) -> bool:
    if before is None or after is None:
        return before is after
    if before == after:
        return True
    return bool(_comparable(before) == _comparable(after))


def _reason(exc: sa.exc.DBAPIError) -> str:
    text = str(exc.orig).strip().splitlines()
    return text[0] if text else type(exc.orig).__name__
