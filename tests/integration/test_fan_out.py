"""``ctx.fan_out`` against the real store and two real workers (SQLite and PostgreSQL): the
chunks run as runs on any free slot, the parent adds up exactly, failed chunks make it
partial, and one slot alone still finishes (the parent runs what nobody took)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from tests.integration.conftest import running_worker, wait_for_end, write_project

from rota.model.runs import Trigger
from rota.model.status import RunStatus
from rota.services.jobs import sync_project
from rota.services.runs import start_run
from rota.settings import Settings
from rota.store import Store
from rota.store.base import RunFilter

JOBS = """
from rota import job

@job(id="f.sum")
def total(ctx, start: int = -1, count: int = 0, chunks: int = 100, fail_chunk: int = -1):
    if start < 0:
        return ctx.fan_out(
            [{"start": i * 10, "count": 10, "fail_chunk": fail_chunk} for i in range(chunks)]
        )
    if start // 10 == fail_chunk:
        raise RuntimeError("bad chunk")
    for k in range(start, start + count):
        ctx.record(str(k), "inserted")
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, {"fan.py": JOBS})


@pytest.fixture
def two_workers(synced: Store, settings: Settings) -> Iterator[None]:
    with ExitStack() as stack:
        for _ in range(2):
            stack.enter_context(running_worker(synced, settings))
        yield


def test_a_fan_out_of_100_chunks_on_two_workers_adds_up_exactly(
    synced: Store, two_workers: None
) -> None:
    parent = start_run(synced, "f.sum", {})
    ended = wait_for_end(synced, parent.id, timeout=120)
    assert ended.status is RunStatus.COMPLETED, ended
    assert ended.counters.inserted == 1000 and ended.counters.processed == 1000
    keys = [r.key for r in synced.get_records(parent.id)]
    assert sorted(keys, key=int) == [str(k) for k in range(1000)]
    assert isinstance(ended.result, dict)
    parts = synced.list_runs(RunFilter(parent_id=parent.id, limit=1000))
    assert all(p.trigger is Trigger.PARENT and p.status is RunStatus.COMPLETED for p in parts)
    assert ended.result["chunks"] == 100
    assert len(parts) + int(ended.result["here"]) == 100  # type: ignore[call-overload]


def test_a_failed_chunk_makes_the_parent_partial_and_names_the_chunk(
    synced: Store, two_workers: None
) -> None:
    parent = start_run(synced, "f.sum", {"chunks": 20, "fail_chunk": 7})
    ended = wait_for_end(synced, parent.id, timeout=120)
    assert ended.status is RunStatus.PARTIAL
    assert ended.counters.inserted == 190 and ended.counters.failed == 1
    [failed] = synced.get_records(parent.id, failed_only=True)
    assert failed.key == "chunk 8" and "bad chunk" in (failed.error or "")


def test_one_slot_alone_finishes_a_fan_out(store: Store, project: Path, database_url: str) -> None:
    from rota.settings import load_settings

    assert not sync_project(store, project).errors
    one_slot = load_settings(
        project,
        database_url=database_url,
        heartbeat_seconds=0.5,
        lease_seconds=1.5,
        poll_seconds=0.05,
        worker_concurrency=1,
    )
    parent = start_run(store, "f.sum", {"chunks": 5})
    with running_worker(store, one_slot):
        ended = wait_for_end(store, parent.id, timeout=60)
    assert ended.status is RunStatus.COMPLETED and ended.counters.inserted == 50
    assert ended.result == {"chunks": 5, "failed": 0, "here": 5}
