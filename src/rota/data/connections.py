"""Named SQL connections of data jobs (``[connections]`` in rota.toml) as SQLAlchemy engines.

SQLite needs one fix to be trusted as a target: pysqlite begins transactions by itself and a
SAVEPOINT issued before that silently commits on release, which would make dry runs and
per-record savepoints write for real. The engine takes transaction control (SQLAlchemy's
documented recipe) so ``BEGIN``, ``SAVEPOINT`` and ``ROLLBACK`` mean what they say; writers
(targets) begin ``IMMEDIATE`` so that parallel parts queue on the busy timeout.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rota.model.errors import InvalidInputError

WRITER = "rota_writer"
"""Execution option of connections that will write (SQLite: ``BEGIN IMMEDIATE``)."""


def connection_url(url: str, project: Path, field: str = "connections") -> sa.engine.URL:
    """Parse ``url``; a relative SQLite path is relative to the project folder."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise InvalidInputError(field, f"{url!r} is not a database URL") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not Path(database).is_absolute():
            parsed = parsed.set(database=str((project / database).resolve()))
    elif parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def open_engine(url: str, project: Path, field: str = "connections") -> Engine:
    parsed = connection_url(url, project, field)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    engine = sa.create_engine(parsed, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A writer takes the write lock up front: two deferred transactions that both read
        # and then write would deadlock, and SQLite answers that at once with "locked"
        # instead of waiting out the busy timeout.
        immediate = conn.get_execution_options().get(WRITER, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
