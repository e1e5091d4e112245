"""The set-based path of a PostgreSQL target: ``COPY`` a chunk into a staging table, classify
every record with one join, then write with one statement per action.

Row-at-a-time ``executemany`` costs a round trip per record; on PostgreSQL a chunk instead
travels once through ``COPY`` into a temporary table shaped like the target (so values are cast
to the target's column types there, and comparisons are the database's own), and is applied
with ``INSERT … ON CONFLICT`` (when a unique index covers the match keys), ``UPDATE … FROM``,
``INSERT … WHERE NOT EXISTS`` and ``DELETE … USING``. Records that did not change are left alone
(``IS DISTINCT FROM`` on every mapped column), so a rerun writes nothing.

The path answers only for chunks it can apply whole. When ``COPY`` refuses a value or a write
breaks a constraint, the transaction is rolled back and :meth:`apply` returns ``None``: the
caller replays the chunk on the record-by-record path, which pins the failure on the records
that caused it with the database's reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from rota.data.targets.sql_table import Action, Record, Result

ROW = "rota_row"
"""The staging column carrying each record's source row number."""


class PostgresBulk:
    """Statements for one (table, columns, keys, action), built once and reused per chunk."""

    def __init__(
        self,
        engine: Engine,
        table: sa.Table,
        columns: Sequence[str],
        match: Sequence[str],
        action: Action,
    ) -> None:
        self.engine = engine
        self.action = action
        self.columns = list(columns)
        self.match = list(match)
        prepare = engine.dialect.identifier_preparer
        q = prepare.quote
        target = prepare.format_table(table)
        row = ROW
        while row in {c.name for c in table.columns}:
            row = f"_{row}"
        digest = hashlib.sha1(repr((target, self.columns)).encode()).hexdigest()[:12]
        stage = f"rota_stage_{digest}"
        self._stage = stage
        cols = ", ".join(q(c) for c in self.columns)
        self._create = (
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
            f"SELECT 0::bigint AS {row}, {cols} FROM {target} WITH NO DATA"
        )
        self._copy = f"COPY {stage} ({row}, {cols}) FROM STDIN"
        joined = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in self.match)
        values = [c for c in self.columns if c not in self.match]
        differs = " OR ".join(f"t.{q(c)} IS DISTINCT FROM s.{q(c)}" for c in values) or "false"
        if self.match:
            self._classify: str | None = (
                f"SELECT s.{row}, bool_or(t.{q(self.match[0])} IS NOT NULL), "
                f"bool_or(coalesce({differs}, false)) "
                f"FROM {stage} s LEFT JOIN {target} t ON {joined} GROUP BY s.{row}"
            )
        else:
            self._classify = None
        missing = f"NOT EXISTS (SELECT 1 FROM {target} t WHERE {joined})"
        insert = f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage} s"
        update = (
            f"UPDATE {target} t SET "
            + ", ".join(f"{q(c)} = s.{q(c)}" for c in values)
            + f" FROM {stage} s WHERE {joined} AND ({differs})"
        )
        self._writes: list[str]
        if action.value == "insert":
            self._writes = [f"{insert} WHERE {missing}" if self.match else insert]
        elif action.value == "update":
            self._writes = [update] if values else []
        elif action.value == "delete":
            self._writes = [f"DELETE FROM {target} t USING {stage} s WHERE {joined}"]
        elif _unique_on(engine, table, self.match):
            excluded = ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in values)
            differs_excluded = " OR ".join(
                f"{target}.{q(c)} IS DISTINCT FROM EXCLUDED.{q(c)}" for c in values
            )
            conflict = ", ".join(q(k) for k in self.match)
            self._writes = [
                f"{insert} ON CONFLICT ({conflict}) "
                + (f"DO UPDATE SET {excluded} WHERE {differs_excluded}" if values else "DO NOTHING")
            ]
        else:  # no unique index to conflict on: update what exists, insert the rest
            self._writes = ([update] if values else []) + [f"{insert} WHERE {missing}"]

    def apply(self, records: Sequence[Record], results: Sequence[Result]) -> bool:
        """Apply ``records`` (match keys present), filling in their ``results``; ``False`` when
        the chunk must be replayed record by record (nothing of it was written)."""
        if not records:
            return True
        with self.engine.connect() as conn:
            transaction = conn.begin()
            try:
                flags = self._apply_in(conn, records)
            except (sa.exc.DBAPIError, psycopg.Error):
                transaction.rollback()
                return False
            except Exception:
                transaction.rollback()
                raise
            transaction.commit()
        for record, result in zip(records, results, strict=True):
            found, changed = flags.get(record.number, (False, False))
            result.action = self._outcome(found, changed)
            if result.action == "failed":
                result.error = "a record with this key already exists"
        return True

    def _apply_in(
        self, conn: Connection, records: Sequence[Record]
    ) -> dict[int, tuple[bool, bool]]:
        raw: Any = conn.connection.dbapi_connection
        with raw.cursor() as cursor:
            cursor.execute(self._create)
            with cursor.copy(self._copy) as copy:
                columns = self.columns
                for record in records:
                    values = record.values
                    copy.write_row([record.number, *[values[c] for c in columns]])
            flags: dict[int, tuple[bool, bool]] = {}
            if self._classify is not None:
                cursor.execute(self._classify)
                flags = {number: (found, changed) for number, found, changed in cursor}
            for statement in self._writes:
                cursor.execute(statement)
        return flags

    def _outcome(self, found: bool, changed: bool) -> str:
        action = self.action.value
        if action == "delete":
            return "deleted" if found else "skipped"
        if not found:
            return "skipped" if action == "update" else "inserted"
        if action == "insert":
            return "failed"  # the key exists already
        return "updated" if changed else "unchanged"


def _unique_on(engine: Engine, table: sa.Table, keys: Sequence[str]) -> bool:
    """Whether a primary key or unique index covers exactly ``keys`` (what ``ON CONFLICT``
    needs to name as its arbiter)."""
    wanted = set(keys)
    if wanted and {c.name for c in table.primary_key.columns} == wanted:
        return True
    inspector = sa.inspect(engine)
    for index in inspector.get_indexes(table.name, schema=table.schema):
        if (
            index.get("unique")
            and set(index["column_names"]) == wanted
            and not index.get("dialect_options", {}).get("postgresql_where")
        ):
            return True
    for constraint in inspector.get_unique_constraints(table.name, schema=table.schema):
        if set(constraint["column_names"]) == wanted:
            return True
    return False
