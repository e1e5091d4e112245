"""PostgreSQL: the multi-node store. Claims use ``FOR UPDATE SKIP LOCKED`` (in the shared
queries); new runs are announced with ``NOTIFY`` and workers wait with ``LISTEN``, falling back
to polling when the listening connection breaks.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rota.model.errors import StoreUnavailableError
from rota.store.sql import SqlStore

CHANNEL = "rota_runs"
CONNECT_ARGS = {
    # Rota's transactions last milliseconds: a session idle inside one for 5 s belongs to a
    # frozen or cut-off process, and its row locks must not keep the reaper from recovering
    # that process's runs.
    "options": "-c idle_in_transaction_session_timeout=5000",
    # A peer that vanished (a partition) is noticed in about 25 s, not TCP's two hours.
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
CLOCK_RESYNC_SECONDS = 10.0
"""How often :meth:`PostgresStore.now` reads the database's clock again; in between it adds
the local monotonic time elapsed, which no change of the local wall clock affects."""
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
            sa.create_engine(
                self._sa_url,
                pool_size=8,
                max_overflow=16,
                pool_pre_ping=True,
                connect_args=CONNECT_ARGS,
            )
        )
        self._listen_lock = threading.Lock()
        self._listener: psycopg.Connection[tuple[object, ...]] | None = None
        self._clock_lock = threading.Lock()
        self._clock_base: tuple[datetime, float] | None = None

    def now(self) -> datetime:
        with self._clock_lock:
            base = self._clock_base
            if base is None or time.monotonic() - base[1] >= CLOCK_RESYNC_SECONDS:
                try:
                    base = self._clock_base = self._read_database_clock()
                except StoreUnavailableError:
                    if base is None:
                        raise
                    # Keep counting from the last reading: a database outage is no reason to
                    # stop knowing the time.
        return base[0] + timedelta(seconds=time.monotonic() - base[1])

    def _read_database_clock(self) -> tuple[datetime, float]:
        """The database's time and the local monotonic instant it stands for (the middle of
        the round trip)."""
        with self._read() as conn:
            before = time.monotonic()
            value = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
            after = time.monotonic()
        assert isinstance(value, datetime)
        return value, (before + after) / 2

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
