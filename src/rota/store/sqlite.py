"""SQLite: the embedded default. WAL, short ``BEGIN IMMEDIATE`` write transactions, a busy
timeout, and ``synchronous=FULL`` unless the administrator chooses ``NORMAL``.

Why FULL: in WAL mode NORMAL may lose the last transactions on power loss (never corrupts),
which here would mean a finished run reappearing as running and being reaped. Documented in
``docs/durability.md`` with the ``ROTA_SQLITE_SYNCHRONOUS`` setting.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rota.store.sql import SqlStore

BUSY_TIMEOUT_MS = 30_000


def _engine(url: str, synchronous: str, *, immediate: bool) -> Engine:
    engine = sa.create_engine(
        url,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=8,
        max_overflow=16,
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE is ours to emit.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class SqliteStore(SqlStore):
    """One file, many threads and processes; writers serialize on SQLite's write lock."""

    def __init__(self, url: str, *, synchronous: str = "FULL") -> None:
        if synchronous.upper() not in {"FULL", "NORMAL", "EXTRA"}:
            raise ValueError(f"synchronous must be FULL, NORMAL or EXTRA, not {synchronous!r}")
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(
            _engine(url, synchronous.upper(), immediate=True),
            _engine(url, synchronous.upper(), immediate=False),
        )
