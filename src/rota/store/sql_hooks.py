"""Webhook rows of the SQL store: hooks with their encrypted secrets, and deliveries, whose
primary key (hook, delivery id) makes a replayed request start nothing new."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from rota.model.errors import ConflictError, NotFoundError
from rota.model.hooks import Hook
from rota.model.runs import NewRun, Run
from rota.store import schema as t
from rota.store.sql_internals import SqlInternals


class SqlHookOps(SqlInternals):
    """Mixed into :class:`rota.store.sql.SqlStore`."""

    def create_hook(self, hook: Hook) -> Hook:
        h = t.hooks
        with self._write() as conn:
            if conn.execute(sa.select(h.c.id).where(h.c.id == hook.id)).first() is not None:
                raise ConflictError(f"hook {hook.id!r} exists; rotate its secret instead")
            conn.execute(
                sa.insert(h).values(
                    id=hook.id,
                    tenant=hook.tenant,
                    job_id=hook.job,
                    description=hook.description,
                    params=hook.params,
                    secret=hook.secret,
                    previous_secret=None,
                    previous_expires_at=None,
                    active=hook.active,
                    created_at=hook.created_at,
                    created_by=hook.created_by,
                    rotated_at=None,
                )
            )
        return self.get_hook(hook.id)

    def get_hook(self, hook_id: str) -> Hook:
        with self._read() as conn:
            row = conn.execute(sa.select(t.hooks).where(t.hooks.c.id == hook_id)).first()
        if row is None:
            raise NotFoundError("hook", hook_id)
        return _hook(row)

    def list_hooks(self) -> list[Hook]:
        with self._read() as conn:
            rows = conn.execute(sa.select(t.hooks).order_by(t.hooks.c.id)).all()
        return [_hook(row) for row in rows]

    def rotate_hook_secret(
        self, hook_id: str, secret: str, previous_expires_at: datetime | None, now: datetime
    ) -> Hook:
        h = t.hooks
        with self._write() as conn:
            done = conn.execute(
                sa.update(h)
                .where(h.c.id == hook_id)
                .values(
                    previous_secret=h.c.secret if previous_expires_at is not None else None,
                    previous_expires_at=previous_expires_at,
                    secret=secret,
                    rotated_at=now,
                )
            ).rowcount
        if not done:
            raise NotFoundError("hook", hook_id)
        return self.get_hook(hook_id)

    def delete_hook(self, hook_id: str) -> None:
        with self._write() as conn:
            if not conn.execute(sa.delete(t.hooks).where(t.hooks.c.id == hook_id)).rowcount:
                raise NotFoundError("hook", hook_id)

    def deliver_hook(
        self, hook_id: str, delivery_id: str, request: NewRun, now: datetime
    ) -> tuple[Run, bool]:
        d = t.hook_deliveries
        key = (d.c.hook_id == hook_id) & (d.c.delivery_id == delivery_id)
        for _ in range(3):
            try:
                with self._write() as conn:
                    seen = conn.execute(sa.select(d.c.run_id).where(key)).first()
                    if seen is not None:
                        return self._get_run_in(conn, seen.run_id), True
                    run = self._enqueue_in(conn, [request], now)[0]
                    conn.execute(
                        sa.insert(d).values(
                            hook_id=hook_id, delivery_id=delivery_id, run_id=run.id, received_at=now
                        )
                    )
                    return run, False
            except sa.exc.IntegrityError:
                continue  # the same delivery raced us on another connection: read its run
        raise ConflictError(f"delivery {delivery_id!r} of hook {hook_id!r} is being recorded")


def _hook(row: Any) -> Hook:
    return Hook(
        id=row.id,
        tenant=row.tenant,
        job=row.job_id,
        description=row.description,
        params=row.params or {},
        secret=row.secret,
        previous_secret=row.previous_secret,
        previous_expires_at=row.previous_expires_at,
        active=row.active,
        created_at=row.created_at,
        created_by=row.created_by,
        rotated_at=row.rotated_at,
    )
