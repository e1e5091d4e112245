"""The worker registry through the real CLI: ``rota workers list`` shows a running worker
alive (host, pid, version, the runs it holds), a worker that stopped as stopped, and a worker
killed with ``kill -9`` as dead once its lease ran out; the reaper of another worker then
takes its run back."""

from __future__ import annotations

import importlib.metadata
import socket
from typing import Any

import pytest
from tests.acceptance.harness import LEASE_SECONDS, Process, Rota, wait_until

pytestmark = pytest.mark.acceptance


def _listed(rota: Rota, *args: str) -> dict[str, dict[str, Any]]:
    return {w["id"]: w for w in rota.json("workers", "list", *args)}


def _worker(rota: Rota, process: Process) -> dict[str, Any] | None:
    assert process.worker_id is not None
    return _listed(rota).get(process.worker_id)


def test_a_running_worker_is_alive_and_a_stopped_one_stopped(synced_rota: Rota) -> None:
    rota = synced_rota
    assert rota.json("workers", "list") == []
    process = rota.worker()

    shown = _worker(rota, process)
    assert shown is not None, rota.process_output()
    assert shown["state"] == "alive"
    assert shown["hostname"] == socket.gethostname()
    assert shown["pid"] == process.pid
    assert shown["version"] == importlib.metadata.version("rota")
    assert shown["stopped_at"] is None
    table = rota.ok("workers", "list")
    assert str(process.pid) in table.out and "alive" in table.out, table

    process.terminate()
    assert process.wait() == 0, process.output()
    shown = _worker(rota, process)
    assert shown is not None
    assert shown["state"] == "stopped"
    assert shown["stopped_at"] is not None
    assert shown["running"] == []
    assert process.worker_id in _listed(rota, "--all")


def test_a_killed_worker_is_dead_after_its_lease_and_its_run_is_recovered(
    synced_rota: Rota,
) -> None:
    rota = synced_rota
    first = rota.worker("worker-a")
    run_id = rota.start_run("archive.rebuild", "items=300", "chunk=20", "pace=0.05")
    rota.wait_for_status(run_id, "running")
    shown = _worker(rota, first)
    assert shown is not None
    assert (shown["state"], shown["running"]) == ("alive", [run_id])

    first.kill()

    def dead() -> dict[str, Any] | None:
        worker = _worker(rota, first)
        return worker if worker is not None and worker["state"] == "dead" else None

    shown = wait_until(dead, timeout=LEASE_SECONDS * 20, what="the killed worker to be dead")
    assert shown["running"] == [run_id]
    assert shown["stopped_at"] is None
    assert "dead" in rota.ok("workers", "list").out

    # Another worker's reaper takes the run back; the dead worker holds nothing any more.
    second = rota.worker("worker-b")
    wait_until(
        lambda: (_worker(rota, first) or {}).get("running") == [],
        what="the dead worker's run to be recovered",
        describe=rota.describe(run_id),
    )
    listed = _listed(rota)
    assert listed[str(first.worker_id)]["state"] == "dead"
    assert listed[str(second.worker_id)]["state"] == "alive"
