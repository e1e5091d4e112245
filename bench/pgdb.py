"""PostgreSQL databases for the benchmarks: one fresh, empty database per measurement, created
and dropped on the server named by ``ROTA_BENCH_POSTGRES_URL``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
import sqlalchemy as sa
from psycopg import sql


def libpq_url(url: str) -> str:
    return (
        sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def with_database(url: str, database: str) -> str:
    return (
        sa.engine.make_url(libpq_url(url))
        .set(database=database)
        .render_as_string(hide_password=False)
    )


def _admin(server_url: str, statement: sql.Composed) -> None:
    with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
        conn.execute(statement)


@contextlib.contextmanager
def postgres_database(server_url: str, name: str, keep: bool = False) -> Iterator[str]:
    """A fresh, empty database; dropped afterwards unless ``keep``."""
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    _admin(server_url, drop)
    _admin(server_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(server_url, name)
    finally:
        if not keep:
            _admin(server_url, drop)
