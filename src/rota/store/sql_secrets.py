"""Secret rows of the SQL store: ciphertext in, ciphertext out. The store never sees a key or
a value; :mod:`rota.secrets` encrypts before and decrypts after."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from rota.model.errors import NotFoundError
from rota.model.secrets import StoredSecret
from rota.store import schema as t


class SqlSecretOps:
    """Mixed into :class:`rota.store.sql.SqlStore`."""

    if TYPE_CHECKING:

        def _write(self) -> AbstractContextManager[Connection]: ...
        def _read(self) -> AbstractContextManager[Connection]: ...

    def put_secret(
        self, tenant: str, name: str, ciphertext: str, actor: str | None, now: datetime
    ) -> StoredSecret:
        s = t.secrets
        key = (s.c.tenant == tenant) & (s.c.name == name)
        with self._write() as conn:
            # One statement, so two first sets of a name racing each other give versions 1
            # and 2, not a duplicate-key error.
            insert = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(s)
            conn.execute(
                insert.values(
                    tenant=tenant,
                    name=name,
                    version=1,
                    ciphertext=ciphertext,
                    created_at=now,
                    updated_at=now,
                    updated_by=actor,
                ).on_conflict_do_update(
                    index_elements=[s.c.tenant, s.c.name],
                    set_={
                        "version": s.c.version + 1,
                        "ciphertext": ciphertext,
                        "updated_at": now,
                        "updated_by": actor,
                    },
                )
            )
            row = conn.execute(sa.select(s).where(key)).mappings().one()
        return _secret(row)

    def get_secret(self, tenant: str, name: str) -> StoredSecret:
        s = t.secrets
        with self._read() as conn:
            row = (
                conn.execute(sa.select(s).where(s.c.tenant == tenant, s.c.name == name))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError("secret", name)
        return _secret(row)

    def list_secrets(self, tenant: str | None = None) -> list[StoredSecret]:
        s = t.secrets
        query = sa.select(s).order_by(s.c.tenant, s.c.name)
        if tenant is not None:
            query = query.where(s.c.tenant == tenant)
        with self._read() as conn:
            return [_secret(row) for row in conn.execute(query).mappings()]

    def delete_secret(self, tenant: str, name: str) -> None:
        s = t.secrets
        with self._write() as conn:
            gone = conn.execute(sa.delete(s).where(s.c.tenant == tenant, s.c.name == name)).rowcount
        if not gone:
            raise NotFoundError("secret", name)


def _secret(row: Any) -> StoredSecret:
    return StoredSecret(
        tenant=row["tenant"],
        name=row["name"],
        version=row["version"],
        ciphertext=row["ciphertext"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        updated_by=row["updated_by"],
    )
