"""What the SQL store's mixins may call on :class:`rota.store.sql.SqlStore`, declared once
for the type checker (the mixins are only ever used mixed into it)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from rota.model.jobs import JobDefinition, StoredJob
from rota.model.runs import NewRun, Run
from rota.model.status import RunStatus


class SqlInternals:
    if TYPE_CHECKING:
        service_account: str

        def _write(self) -> AbstractContextManager[Connection]: ...
        def _read(self) -> AbstractContextManager[Connection]: ...
        def _history(
            self,
            conn: Connection,
            run_id: int,
            old: RunStatus | None,
            new: RunStatus,
            now: datetime,
            reason: str | None,
            actor: str | None,
        ) -> None: ...
        def _notify_new_runs(self, conn: Connection) -> None: ...
        def _service_account_in(
            self, conn: Connection, tenant: str, fallback: str | None = None
        ) -> str: ...
        def _enqueue_in(
            self, conn: Connection, requests: Sequence[NewRun], now: datetime
        ) -> list[Run]: ...
        def _queued_in(self, conn: Connection, run_id: int, now: datetime) -> None: ...
        def _get_run_in(self, conn: Connection, run_id: int) -> Run: ...
        def _cancel_in(
            self,
            conn: Connection,
            run_id: int,
            actor: str | None,
            now: datetime,
            reason: str = "canceled",
        ) -> None: ...
        def _definition_in(
            self, conn: Connection, job_id: str, version: int
        ) -> JobDefinition | None: ...
        def _current_job_in(self, conn: Connection, job_id: str) -> StoredJob: ...
