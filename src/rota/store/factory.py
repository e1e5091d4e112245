"""The only module that knows which class backs which database URL."""

from __future__ import annotations

import sqlalchemy as sa

from rota.model.errors import InvalidInputError
from rota.store.base import Store


def open_store(url: str, *, sqlite_synchronous: str = "FULL") -> Store:
    try:
        backend = sa.engine.make_url(url).get_backend_name()
    except sa.exc.ArgumentError as exc:
        raise InvalidInputError("database_url", f"not a database URL: {exc}") from None
    if backend == "sqlite":
        from rota.store.sqlite import SqliteStore

        return SqliteStore(url, synchronous=sqlite_synchronous)
    if backend in ("postgresql", "postgres"):
        from rota.store.postgres import PostgresStore

        return PostgresStore(url)
    raise InvalidInputError(
        "database_url", f"unsupported database {backend!r}: use sqlite or postgresql"
    )
