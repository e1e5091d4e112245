"""Store contract: the worker registry (``list_workers``): who registered, with which version,
whether it is alive, stopped or dead at a given time, and which runs it holds now."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rota.model.runs import Outcome
from rota.model.status import RunStatus
from rota.store import Store

if TYPE_CHECKING:
    from tests.contract.conftest import Ops

LEASE = 30.0


def test_a_registered_worker_is_listed_with_its_host_pid_and_version(
    store: Store, ops: Ops
) -> None:
    store.register_worker(ops.worker, "host-1", 4242, 8, ops.now, version="1.2.3")

    [worker] = store.list_workers(ops.later(1), LEASE)

    assert (worker.id, worker.hostname, worker.pid, worker.concurrency) == (
        ops.worker,
        "host-1",
        4242,
        8,
    )
    assert worker.version == "1.2.3"
    assert worker.started_at == ops.now
    assert worker.heartbeat_at == ops.now
    assert worker.stopped_at is None
    assert worker.state == "alive"
    assert worker.running == []
    assert worker.to_json() == {
        "id": ops.worker,
        "hostname": "host-1",
        "pid": 4242,
        "version": "1.2.3",
        "concurrency": 8,
        "state": "alive",
        "started_at": "2026-11-20T08:00:00Z",
        "heartbeat_at": "2026-11-20T08:00:00Z",
        "stopped_at": None,
        "running": [],
    }


def test_the_version_is_optional(store: Store, ops: Ops) -> None:
    store.register_worker(ops.worker, "host-1", 4242, 8, ops.now)

    assert [w.version for w in store.list_workers(ops.now, LEASE)] == [None]


def test_a_worker_is_alive_while_it_heartbeats_and_dead_a_lease_after_the_last_beat(
    store: Store, ops: Ops
) -> None:
    store.register_worker(ops.worker, "host-1", 4242, 8, ops.now)

    def state(seconds: float) -> str:
        return store.list_workers(ops.later(seconds), LEASE)[0].state

    assert state(LEASE) == "alive"
    assert state(LEASE + 1) == "dead"

    store.worker_heartbeat(ops.worker, ops.later(50))
    assert store.list_workers(ops.now, LEASE)[0].heartbeat_at == ops.later(50)
    assert state(51) == "alive"
    assert state(50 + LEASE + 1) == "dead"
    # the caller's lease decides
    assert store.list_workers(ops.later(60), 5.0)[0].state == "dead"
    assert store.list_workers(ops.later(60), 15.0)[0].state == "alive"


def test_a_stopped_worker_is_stopped_never_dead(store: Store, ops: Ops) -> None:
    store.register_worker(ops.worker, "host-1", 4242, 8, ops.now)
    store.stop_worker(ops.worker, ops.later(10))

    [worker] = store.list_workers(ops.later(10 * LEASE), LEASE)

    assert worker.state == "stopped"
    assert worker.stopped_at == ops.later(10)


def test_stopped_workers_can_be_left_out(store: Store, ops: Ops) -> None:
    store.register_worker("w-stopped", "host-1", 1, 1, ops.now)
    store.register_worker("w-alive", "host-1", 2, 1, ops.later(1))
    store.register_worker("w-dead", "host-1", 3, 1, ops.later(2))
    store.stop_worker("w-stopped", ops.later(3))
    at = ops.later(2 + LEASE + 1)
    store.worker_heartbeat("w-alive", at)

    everything = store.list_workers(at, LEASE)
    running = store.list_workers(at, LEASE, include_stopped=False)

    assert {w.id: w.state for w in everything} == {
        "w-stopped": "stopped",
        "w-alive": "alive",
        "w-dead": "dead",
    }
    assert [w.id for w in running] == ["w-dead", "w-alive"]


def test_workers_are_listed_newest_first_up_to_the_limit(store: Store, ops: Ops) -> None:
    for i in range(5):
        store.register_worker(f"worker-{i}", "host-1", 100 + i, 1, ops.later(i))

    assert [w.id for w in store.list_workers(ops.later(5), LEASE)] == [
        "worker-4",
        "worker-3",
        "worker-2",
        "worker-1",
        "worker-0",
    ]
    assert [w.id for w in store.list_workers(ops.later(5), LEASE, limit=2)] == [
        "worker-4",
        "worker-3",
    ]
    assert store.list_workers(ops.later(5), LEASE, limit=0) == []


def test_each_worker_lists_the_runs_it_holds_now(store: Store, ops: Ops) -> None:
    ops.sync()
    store.register_worker("worker-a", "host-1", 1, 4, ops.now)
    store.register_worker("worker-b", "host-2", 2, 4, ops.later(1))
    store.register_worker("worker-c", "host-3", 3, 4, ops.later(2))
    ops.enqueue(3)
    held_a = ops.claim(2, worker="worker-a")
    held_b = ops.claim(1, worker="worker-b")
    assert len(held_a) == 2 and len(held_b) == 1

    workers = {w.id: w.running for w in store.list_workers(ops.later(3), LEASE)}
    assert workers == {
        "worker-a": sorted(c.run_id for c in held_a),
        "worker-b": [held_b[0].run_id],
        "worker-c": [],
    }

    # a finished run is no longer held
    done = held_a[0]
    outcome = Outcome(run_id=done.run_id, token=done.token, status=RunStatus.COMPLETED)
    assert store.finish_runs([outcome], ops.later(4))[done.run_id]
    workers = {w.id: w.running for w in store.list_workers(ops.later(5), LEASE)}
    assert workers["worker-a"] == [held_a[1].run_id]
    assert workers["worker-b"] == [held_b[0].run_id]


def test_nothing_registered_lists_nothing(store: Store, ops: Ops) -> None:
    assert store.list_workers(ops.now, LEASE) == []
