"""``/api/v1/runs``: history with filters and paging, one run with its attempts, status
history and steps, cancel and retry, the log (paged, or streamed as server-sent events) and
the record results (JSON pages, or one CSV download)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from rota.api.deps import PrincipalDep, StoreDep
from rota.api.errors import ERROR_RESPONSES
from rota.api.schemas import (
    AfterQuery,
    AttemptOut,
    BeforeQuery,
    LogPage,
    RecordPage,
    RetryBody,
    RunDetail,
    RunIdPath,
    RunOut,
    RunPage,
    StatusChangeOut,
)
from rota.auth.roles import Principal
from rota.model.errors import InvalidInputError
from rota.model.runs import Trigger
from rota.model.status import RunStatus
from rota.services import runs as run_service
from rota.store.base import Store

router = APIRouter(prefix="/api/v1", tags=["runs"], responses=ERROR_RESPONSES)

STREAM_POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@router.get("/runs", response_model=RunPage)
def list_runs(
    store: StoreDep,
    principal: PrincipalDep,
    job: str | None = None,
    status: RunStatus | None = None,
    tenant: str | None = None,
    trigger: Trigger | None = None,
    since: Annotated[datetime | None, Query(description="Created at or after (ISO 8601).")] = None,
    limit: int = Query(default=50, ge=1, le=1000),
    before: BeforeQuery = None,
) -> dict[str, Any]:
    """Newest first; ``next_before`` continues the list."""
    if since is not None and since.tzinfo is None:
        raise InvalidInputError("since", "needs a UTC offset or Z")
    found = run_service.list_runs(
        store,
        job=job,
        status=status.value if status else None,
        tenant=tenant,
        trigger=trigger.value if trigger else None,
        since=since,
        before_id=before,
        limit=limit,
        principal=principal,
    )
    return {
        "runs": [r.to_json() for r in found],
        "next_before": found[-1].id if len(found) == limit else None,
    }


@router.get("/runs/{run_id}", response_model=RunDetail)
def show_run(run_id: RunIdPath, store: StoreDep, principal: PrincipalDep) -> dict[str, Any]:
    """One run with its attempts and status history; a process run lists its steps."""
    run = run_service.get_run(store, run_id, principal=principal)
    return {
        **run.to_json(),
        "attempts": [
            a.to_json() for a in run_service.get_attempts(store, run_id, principal=principal)
        ],
        "history": [
            h.to_json() for h in run_service.get_history(store, run_id, principal=principal)
        ],
    }


@router.get("/runs/{run_id}/attempts", response_model=list[AttemptOut])
def attempts(run_id: RunIdPath, store: StoreDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    return [a.to_json() for a in run_service.get_attempts(store, run_id, principal=principal)]


@router.get("/runs/{run_id}/history", response_model=list[StatusChangeOut])
def history(run_id: RunIdPath, store: StoreDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Every status change: from, to, when, why and by whom."""
    return [h.to_json() for h in run_service.get_history(store, run_id, principal=principal)]


@router.post("/runs/{run_id}/cancel", response_model=RunOut)
def cancel(run_id: RunIdPath, store: StoreDep, principal: PrincipalDep) -> dict[str, Any]:
    """A queued run is canceled at once; a running one is asked to stop (forced after the
    grace period). Canceling an ended run is a conflict."""
    return run_service.cancel_run(
        store, run_id, actor=principal.name, principal=principal
    ).to_json()


@router.post("/runs/{run_id}/retry", response_model=RunOut, status_code=201)
def retry(
    run_id: RunIdPath, store: StoreDep, principal: PrincipalDep, body: RetryBody | None = None
) -> dict[str, Any]:
    """A new run with the same job and parameters as a failed, partial or canceled one."""
    confirm = body.confirm if body else False
    run = run_service.retry_run(
        store, run_id, actor=principal.name, confirm=confirm, principal=principal
    )
    return run.to_json()


@router.get("/runs/{run_id}/logs", response_model=LogPage)
def logs(
    run_id: RunIdPath,
    store: StoreDep,
    principal: PrincipalDep,
    after: AfterQuery = 0,
    limit: int = Query(default=1000, ge=1, le=10_000),
) -> dict[str, Any]:
    """Log lines of every attempt, oldest first; ``next_after`` continues."""
    run = run_service.get_run(store, run_id, principal=principal)
    lines = run_service.get_logs(store, run_id, after=after, limit=limit, principal=principal)
    last = lines[-1].seq if lines else after
    return {
        "lines": [line.to_json() for line in lines],
        "next_after": last,
        "finished": run.status.terminal and len(lines) < limit,
    }


@router.get(
    "/runs/{run_id}/logs/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
)
async def stream_logs(
    run_id: RunIdPath,
    request: Request,
    store: StoreDep,
    principal: PrincipalDep,
    after: AfterQuery = 0,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """The log as server-sent events: one ``log`` event per line (its ``id`` is the line's
    ``seq``, so a reconnecting EventSource resumes where it was), then an ``end`` event with
    the run's status once the run has ended and every line was sent."""
    await run_in_threadpool(_visible, store, run_id, principal)
    if last_event_id and last_event_id.isdigit() and len(last_event_id) < 19:
        after = max(after, int(last_event_id))
    return StreamingResponse(
        _events(request, store, principal, run_id, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _visible(store: Store, run_id: int, principal: Principal) -> None:
    run_service.get_run(store, run_id, principal=principal)


async def _events(
    request: Request, store: Store, principal: Principal, run_id: int, after: int
) -> AsyncIterator[str]:
    """Poll in a worker thread (the store blocks) every ``STREAM_POLL_SECONDS``, through the
    services like every other read; a comment line now and then keeps proxies from closing
    an idle stream."""
    idle = 0.0
    while True:
        lines = await run_in_threadpool(
            run_service.get_logs, store, run_id, after=after, limit=500, principal=principal
        )
        for line in lines:
            after = line.seq
            yield f"id: {line.seq}\nevent: log\ndata: {json.dumps(line.to_json())}\n\n"
        if lines:
            idle = 0.0
            continue
        run = await run_in_threadpool(run_service.get_run, store, run_id, principal=principal)
        if run.status.terminal:
            # Lines written just before the end are read once more before saying so.
            last = await run_in_threadpool(
                run_service.get_logs, store, run_id, after=after, limit=1, principal=principal
            )
            if not last:
                yield f"event: end\ndata: {json.dumps({'status': run.status.value})}\n\n"
                return
            continue
        if await request.is_disconnected():
            return
        await anyio.sleep(STREAM_POLL_SECONDS)
        idle += STREAM_POLL_SECONDS
        if idle >= KEEPALIVE_SECONDS:
            idle = 0.0
            yield ": keepalive\n\n"


@router.get("/runs/{run_id}/records", response_model=RecordPage)
def records(
    run_id: RunIdPath,
    store: StoreDep,
    principal: PrincipalDep,
    failed: bool = False,
    action: str | None = None,
    after: AfterQuery = 0,
    limit: int = Query(default=1000, ge=1, le=10_000),
) -> dict[str, Any]:
    """Record results in the order they were written; ``failed`` keeps the failed ones,
    ``action`` one action; ``next_after`` continues (null: no more)."""
    page = run_service.get_records(
        store, run_id, failed_only=failed, after=after, limit=limit, principal=principal
    )
    kept = [r for r in page if action is None or r.action == action]
    return {
        "records": [{**r.to_json(), "seq": r.seq} for r in kept],
        "next_after": page[-1].seq if len(page) == limit else None,
    }


@router.get(
    "/runs/{run_id}/records.csv",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "key, action, error, attempt, row"}
    },
)
def records_csv(
    run_id: RunIdPath, store: StoreDep, principal: PrincipalDep, failed: bool = False
) -> StreamingResponse:
    """Every record result as CSV (cells that a spreadsheet would run as a formula are
    prefixed with ``'``: keys and errors come from source files anyone may have written)."""
    run_service.get_run(store, run_id, principal=principal)
    return StreamingResponse(
        _csv_rows(store, principal, run_id, failed),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="run-{run_id}-records.csv"'},
    )


def _csv_rows(store: Store, principal: Principal, run_id: int, failed: bool) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["key", "action", "error", "attempt", "row"])
    after = 0
    while True:
        page = run_service.get_records(
            store, run_id, failed_only=failed, after=after, limit=5000, principal=principal
        )
        for r in page:
            row = "" if r.row is None else r.row
            writer.writerow([_cell(r.key), r.action, _cell(r.error), r.attempt, row])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        if len(page) < 5000:
            return
        after = page[-1].seq


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
