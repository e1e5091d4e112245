"""Store contract: what a running attempt writes (logs, records, progress) and how it ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from rota.model.errors import ConflictError, LeaseLostError
from rota.model.runs import (
    Activity,
    Counters,
    LogLine,
    Outcome,
    Progress,
    RunError,
)
from rota.model.status import RunStatus
from rota.store import Store

if TYPE_CHECKING:
    from tests.contract.conftest import Ops

QUEUED, RUNNING = RunStatus.QUEUED, RunStatus.RUNNING
COMPLETED, PARTIAL, FAILED = RunStatus.COMPLETED, RunStatus.PARTIAL, RunStatus.FAILED

# -- record_activity -----------------------------------------------------------------------------


def test_it_counts_record_results(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()

    ops.activity(claim, ops.records("inserted", "updated", "unchanged", "inserted", failed=[3]))
    ops.activity(claim, ops.records("deleted", "skipped", prefix="m"))

    run = store.get_run(claim.run_id)
    assert run.counters == Counters(
        processed=6,
        succeeded=5,
        failed=1,
        skipped=1,
        inserted=1,
        updated=1,
        deleted=1,
        unchanged=1,
    )
    assert run.data_changed
    assert [(r.key, r.action, r.error, r.attempt) for r in store.get_records(claim.run_id)] == [
        ("k0", "inserted", None, 1),
        ("k1", "updated", None, 1),
        ("k2", "unchanged", None, 1),
        ("k3", "inserted", "boom", 1),
        ("m0", "deleted", None, 1),
        ("m1", "skipped", None, 1),
    ]
    assert [r.key for r in store.get_records(claim.run_id, failed_only=True)] == ["k3"]


def test_it_pages_through_record_results_by_seq(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()
    ops.activity(claim, ops.records(*["inserted"] * 5))

    first = store.get_records(claim.run_id, limit=2)
    rest = store.get_records(claim.run_id, after=first[-1].seq)

    assert [r.key for r in first] == ["k0", "k1"]
    assert [r.key for r in rest] == ["k2", "k3", "k4"]
    assert first[0].seq < first[1].seq < rest[0].seq


def test_it_marks_data_changed_only_for_inserted_updated_or_deleted_records(
    store: Store, ops: Ops
) -> None:
    ops.sync()
    cases = [
        (ops.records("inserted"), True),
        (ops.records("updated"), True),
        (ops.records("deleted"), True),
        (ops.records("unchanged", "skipped"), False),
        (ops.records("inserted", failed=[0]), False),
        (Activity(logs=[LogLine(at=ops.now, level="info", message="nothing")]), False),
    ]
    ops.enqueue(len(cases))
    claims = ops.claim()

    for claim, (activity, _) in zip(claims, cases, strict=True):
        ops.activity(claim, activity)

    changed = [store.get_run(c.run_id).data_changed for c in claims]
    assert changed == [expected for _, expected in cases]


def test_it_counts_a_record_with_action_failed_as_failed_even_without_an_error(
    store: Store, ops: Ops
) -> None:
    ops.sync()
    claim = ops.start()

    ops.activity(claim, ops.records("failed", "inserted"))

    counters = store.get_run(claim.run_id).counters
    assert (counters.processed, counters.succeeded, counters.failed) == (2, 1, 1)
    assert ops.finish(claim)
    assert store.get_run(claim.run_id).status is PARTIAL


def test_it_lists_a_record_with_action_failed_among_the_failed_records(
    store: Store, ops: Ops
) -> None:
    ops.sync()
    claim = ops.start()

    ops.activity(claim, ops.records("failed", "inserted", "updated", failed=[2]))

    assert [r.key for r in store.get_records(claim.run_id, failed_only=True)] == ["k0", "k2"]


def test_it_appends_logs_readable_in_order_with_a_cursor(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()

    def line(message: str, level: str = "info") -> LogLine:
        return LogLine(at=ops.later(1), level=level, message=message)

    ops.activity(claim, Activity(logs=[line("starting"), line("fetched 3 rows", "debug")]))
    ops.activity(claim, Activity(logs=[line("done", "warning")]))

    logs = store.get_logs(claim.run_id)
    assert [(g.level, g.message, g.attempt, g.at) for g in logs] == [
        ("info", "starting", 1, ops.later(1)),
        ("debug", "fetched 3 rows", 1, ops.later(1)),
        ("warning", "done", 1, ops.later(1)),
    ]
    assert logs[0].seq < logs[1].seq < logs[2].seq
    assert [g.message for g in store.get_logs(claim.run_id, after=logs[0].seq)] == [
        "fetched 3 rows",
        "done",
    ]
    assert store.get_logs(claim.run_id, after=logs[2].seq) == []
    assert [g.message for g in store.get_logs(claim.run_id, limit=1)] == ["starting"]


def test_it_sets_progress_and_merges_info_and_external_calls(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()

    ops.activity(
        claim,
        Activity(
            progress=Progress(10, 100, "page 1"),
            info={"source": "crm", "pages": 1},
            external_calls=[{"url": "https://crm.example/a"}],
        ),
    )
    ops.activity(
        claim,
        Activity(
            progress=Progress(50, 100, "page 5"),
            info={"pages": 5, "region": "eu"},
            external_calls=[{"url": "https://crm.example/b"}],
        ),
    )
    ops.activity(claim, Activity(info={"nested": {"a": [1, None, True]}}))

    run = store.get_run(claim.run_id)
    assert run.progress == Progress(50, 100, "page 5")
    assert run.info == {
        "source": "crm",
        "pages": 5,
        "region": "eu",
        "nested": {"a": [1, None, True]},
    }
    assert run.external_calls == [
        {"url": "https://crm.example/a"},
        {"url": "https://crm.example/b"},
    ]


def test_it_writes_no_activity_for_a_lost_lease(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()
    before = store.get_run(claim.run_id)
    activity = ops.records("inserted", "updated")
    activity.logs.append(LogLine(at=ops.now, level="info", message="hello"))
    activity.progress = Progress(1, 2, "half")
    activity.info = {"x": 1}

    with pytest.raises(LeaseLostError):
        store.record_activity(claim.run_id, "not-the-token", activity, ops.now)

    assert store.get_run(claim.run_id) == before
    assert store.get_logs(claim.run_id) == []
    assert store.get_records(claim.run_id) == []


def test_it_refuses_activity_after_the_run_ended(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()
    assert ops.finish(claim)

    with pytest.raises(LeaseLostError):
        ops.activity(claim, ops.records("inserted"))

    assert store.get_records(claim.run_id) == []


# -- finish_runs -------------------------------------------------------------------------------


def test_it_completes_a_run_without_failed_records(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()
    ops.activity(claim, ops.records("inserted", "unchanged"))

    written = store.finish_runs(
        [Outcome(run_id=claim.run_id, token=claim.token, status=COMPLETED, result={"rows": 2})],
        ops.later(30),
    )

    assert written == {claim.run_id: True}
    run = store.get_run(claim.run_id)
    assert (run.status, run.result, run.error) == (COMPLETED, {"rows": 2}, None)
    assert (run.finished_at, run.lease_expires_at) == (ops.later(30), None)
    (attempt,) = store.get_attempts(claim.run_id)
    assert (attempt.finished_at, attempt.outcome) == (ops.later(30), "completed")
    assert ops.statuses(claim.run_id) == [(None, QUEUED), (QUEUED, RUNNING), (RUNNING, COMPLETED)]
    assert store.get_history(claim.run_id)[-1].at == ops.later(30)


@pytest.mark.parametrize(
    ("failed", "expected"),
    [((), COMPLETED), ((1,), PARTIAL), ((0, 1, 2), FAILED)],
    ids=["none-failed", "some-failed", "all-failed"],
)
def test_it_settles_a_completed_run_by_its_failed_records(
    store: Store, ops: Ops, failed: tuple[int, ...], expected: RunStatus
) -> None:
    ops.sync()
    claim = ops.start()
    last_activity = ops.records("inserted", "updated", "inserted", failed=failed)

    assert ops.finish(claim, COMPLETED, activity=last_activity)

    run = store.get_run(claim.run_id)
    assert run.status is expected
    assert (run.counters.processed, run.counters.failed) == (3, len(failed))
    assert ops.statuses(claim.run_id)[-1] == (RUNNING, expected)
    assert store.get_attempts(claim.run_id)[0].outcome == expected.value


def test_it_fails_a_run_with_its_error(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()
    error = RunError("ValueError", "bad row", "Traceback ...")

    assert ops.finish(claim, FAILED, reason="job raised", error=error)

    run = store.get_run(claim.run_id)
    assert (run.status, run.reason, run.error) == (FAILED, "job raised", error)
    assert store.get_attempts(claim.run_id)[0].error == error
    assert ops.statuses(claim.run_id)[-1] == (RUNNING, FAILED)


def test_it_requeues_a_run_for_a_retry_at_the_given_time(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()
    retry_at = ops.later(600)

    assert ops.finish(
        claim, QUEUED, at=ops.later(10), reason="retry", error=RunError("E", "x"), retry_at=retry_at
    )

    run = store.get_run(claim.run_id)
    assert (run.status, run.due_at, run.attempt, run.lease_expires_at) == (
        QUEUED,
        retry_at,
        1,
        None,
    )
    assert ops.claim(at=ops.later(599)) == []
    (retry,) = ops.claim(at=retry_at)
    assert (retry.run_id, retry.attempt) == (claim.run_id, 2)
    assert ops.finish(retry, at=ops.later(700))
    assert ops.statuses(claim.run_id) == [
        (None, QUEUED),
        (QUEUED, RUNNING),
        (RUNNING, QUEUED),
        (QUEUED, RUNNING),
        (RUNNING, COMPLETED),
    ]
    attempts = store.get_attempts(claim.run_id)
    assert [(a.number, a.outcome, a.finished_at) for a in attempts] == [
        (1, "queued", ops.later(10)),
        (2, "completed", ops.later(700)),
    ]
    assert store.get_run(claim.run_id).attempt == 2


def test_it_writes_nothing_for_an_outcome_whose_lease_was_lost(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()
    before = store.get_run(claim.run_id)
    history = store.get_history(claim.run_id)

    written = store.finish_runs(
        [
            Outcome(
                run_id=claim.run_id,
                token="not-the-token",
                status=COMPLETED,
                activity=ops.records("inserted"),
            )
        ],
        ops.later(10),
    )

    assert written == {claim.run_id: False}
    assert store.get_run(claim.run_id) == before
    assert store.get_history(claim.run_id) == history
    assert store.get_records(claim.run_id) == []


def test_it_finishes_many_runs_in_one_call_and_skips_only_the_lost_ones(
    store: Store, ops: Ops
) -> None:
    ops.sync()
    ops.enqueue(3)
    a, b, c = ops.claim()

    written = store.finish_runs(
        [
            Outcome(run_id=a.run_id, token=a.token, status=COMPLETED),
            Outcome(run_id=b.run_id, token="not-the-token", status=COMPLETED),
            Outcome(run_id=c.run_id, token=c.token, status=FAILED, reason="boom"),
        ],
        ops.later(5),
    )

    assert written == {a.run_id: True, b.run_id: False, c.run_id: True}
    assert [store.get_run(x.run_id).status for x in (a, b, c)] == [COMPLETED, RUNNING, FAILED]


def test_it_never_changes_an_ended_run(store: Store, ops: Ops) -> None:
    ops.sync()
    claim = ops.start()
    assert ops.finish(claim)
    ended = store.get_run(claim.run_id)
    history = store.get_history(claim.run_id)

    assert not ops.finish(claim, FAILED, at=ops.later(5))
    with pytest.raises(ConflictError):
        store.request_cancel(claim.run_id, "bob", ops.later(5))
    assert store.release_runs(ops.worker, {claim.run_id: claim.token}, ops.later(5)) == 0
    assert ops.claim(at=ops.later(5)) == []
    assert store.reap_expired(ops.later(3600)) == []

    assert store.get_run(claim.run_id) == ended
    assert store.get_history(claim.run_id) == history
