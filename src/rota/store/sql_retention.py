"""Retention of the SQL store: ended runs and old occurrences deleted in small batches.

Each batch is one short transaction (SQLite holds its one write lock meanwhile), so pruning
never keeps the queue waiting for long; callers loop while :attr:`PruneResult.more`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rota.model.status import TERMINAL, RunStatus
from rota.store import schema as t
from rota.store.base import PruneResult

ENDED = tuple(sorted(status.value for status in TERMINAL))


class SqlRetentionOps:
    """Mixed into :class:`rota.store.sql.SqlStore`."""

    if TYPE_CHECKING:

        def _write(self) -> AbstractContextManager[Connection]: ...

    def prune(self, before: datetime, *, batch: int = 500) -> PruneResult:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        r, o = t.runs, t.occurrences
        waiter, parent, part = r.alias("waiter"), r.alias("parent"), r.alias("part")
        candidates = (
            sa.select(r.c.id)
            .where(
                r.c.status.in_(ENDED),
                r.c.finished_at < before,
                # A pending run is queued when the run it waits for ends: keep that run.
                ~sa.exists().where(
                    waiter.c.waits_for == r.c.id, waiter.c.status == RunStatus.PENDING.value
                ),
                # A part goes with its parent, never before the parent has ended...
                ~sa.exists().where(parent.c.id == r.c.parent_id, parent.c.status.not_in(ENDED)),
                # ...and a parent stays while one of its parts has not ended.
                ~sa.exists().where(part.c.parent_id == r.c.id, part.c.status.not_in(ENDED)),
            )
            .order_by(r.c.finished_at, r.c.id)
            .limit(batch + 1)
        )
        old_occurrences = (
            sa.select(o.c.id).where(o.c.recorded_at < before).order_by(o.c.id).limit(batch + 1)
        )
        with self._write() as conn:
            if conn.dialect.name == "postgresql":
                # Two workers pruning at once take different rows instead of queueing.
                candidates = candidates.with_for_update(of=r, skip_locked=True)
                old_occurrences = old_occurrences.with_for_update(skip_locked=True)
            run_ids = list(conn.execute(candidates).scalars())
            occurrence_ids = list(conn.execute(old_occurrences).scalars())
            more = len(run_ids) > batch or len(occurrence_ids) > batch
            run_ids, occurrence_ids = run_ids[:batch], occurrence_ids[:batch]
            counts: dict[str, int] = {}
            if run_ids:
                for name, table in (
                    ("attempts", t.run_attempts),
                    ("history", t.run_status_history),
                    ("logs", t.run_logs),
                    ("records", t.run_records),
                ):
                    counts[name] = conn.execute(
                        sa.delete(table).where(table.c.run_id.in_(run_ids))
                    ).rowcount
                # Rows that only describe these runs: their steps and the deliveries that
                # started them (a replay that old is refused by its timestamp anyway).
                s, d = t.process_steps, t.hook_deliveries
                conn.execute(sa.delete(s).where(s.c.process_run_id.in_(run_ids)))
                conn.execute(sa.delete(d).where(d.c.run_id.in_(run_ids)))
                counts["runs"] = conn.execute(sa.delete(r).where(r.c.id.in_(run_ids))).rowcount
            if occurrence_ids:
                counts["occurrences"] = conn.execute(
                    sa.delete(o).where(o.c.id.in_(occurrence_ids))
                ).rowcount
        return PruneResult(**counts, more=more)
