"""PostgreSQL: the multi-node store. Claims use ``FOR UPDATE SKIP LOCKED`` (in the shared
queries); new runs are announced with ``NOTIFY`` and workers wait with ``LISTEN``, falling back
to polling when the listening connection breaks.
"""

from __future__ import annotations

import logging
import select
import threading
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rota.store.sql import SqlStore

CHANNEL = "rota_runs"
_COPY_RECORDS = 'COPY run_records (run_id, attempt, "key", action, error, "row") FROM STDIN'
log = logging.getLogger(__name__)


def _psycopg_url(url: str) -> sa.engine.URL:
    parsed = sa.engine.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


class PostgresStore(SqlStore):
    def __init__(self, url: str) -> None:
        self._sa_url = _psycopg_url(url)
        super().__init__(
            sa.create_engine(self._sa_url, pool_size=8, max_overflow=16, pool_pre_ping=True)
        )
        self._listen_lock = threading.Lock()
        self._listener: psycopg.Connection[tuple[object, ...]] | None = None

    def _insert_records(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        """``COPY``: an import's record results arrive by the thousand per flush."""
        raw: Any = conn.connection.dbapi_connection
        with raw.cursor() as cursor, cursor.copy(_COPY_RECORDS) as copy:
            for row in rows:
                copy.write_row(row)

    def _notify_new_runs(self, conn: Connection) -> None:
        conn.exec_driver_sql(f"NOTIFY {CHANNEL}")
        super()._notify_new_runs(conn)

    def _listen_connection(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._listener is None or self._listener.closed:
            dsn = self._sa_url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._listener = psycopg.connect(dsn, autocommit=True)
            self._listener.execute(f"LISTEN {CHANNEL}")
        return self._listener

    def wait_for_runs(self, timeout: float) -> bool:
        """Wait on the LISTEN socket itself: libpq keeps notifications that arrive while
        nobody waits, so none is lost between two waits (psycopg's ``notifies()`` generator
        can drop those)."""
        if self._wakeup.is_set():
            self._wakeup.clear()
            return True
        with self._listen_lock:
            try:
                conn = self._listen_connection()
                if self._drain_notifications(conn):
                    return True
                readable, _, _ = select.select([conn.fileno()], [], [], timeout)
                return bool(readable) and self._drain_notifications(conn)
            except (psycopg.Error, OSError, ValueError) as exc:
                log.warning("LISTEN connection lost (%s); polling instead", exc)
                if self._listener is not None:
                    self._listener.close()
                self._listener = None
                return super().wait_for_runs(timeout)

    @staticmethod
    def _drain_notifications(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
        pgconn = conn.pgconn
        pgconn.consume_input()
        found = False
        while pgconn.notifies() is not None:
            found = True
        return found

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
        super().close()
