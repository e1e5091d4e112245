"""Store contract: schedules, occurrences, business calendars and groups.

Every test passes ``now`` explicitly: the fixed 2026-11-20 08:00 UTC of ``tests/conftest.py``,
and offsets from it. Interval schedules are anchored at the epoch, so ``60s`` fires on every
whole minute (08:01, 08:02, ...).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from rota.model.errors import ConflictError, NotFoundError
from rota.model.params import ParamSchema, ParamSpec, ParamType
from rota.model.runs import Run, Trigger
from rota.model.schedules import (
    BusinessCalendar,
    MissedPolicy,
    OccurrenceOutcome,
    OverlapPolicy,
    ScheduleKind,
    ScheduleSpec,
    TimeWindow,
)
from rota.model.status import RunStatus
from rota.store import RunFilter, Store, sql_schedules
from rota.store import schema as t
from rota.store.base import FireReport, OccurrenceFilter

if TYPE_CHECKING:
    from tests.contract.conftest import Ops

JOB = "sync.customers"
SID = f"{JOB}:1"
SERVICE = "svc-rota"

RAN = OccurrenceOutcome.RAN
MISSED = OccurrenceOutcome.SKIPPED_MISSED
OVERLAP = OccurrenceOutcome.SKIPPED_OVERLAP
BLACKOUT = OccurrenceOutcome.SKIPPED_BLACKOUT
COALESCED = OccurrenceOutcome.COALESCED
PENDING, QUEUED, RUNNING = RunStatus.PENDING, RunStatus.QUEUED, RunStatus.RUNNING
CANCELED, COMPLETED = RunStatus.CANCELED, RunStatus.COMPLETED


def every(seconds: int = 60, **options: Any) -> ScheduleSpec:
    return ScheduleSpec(kind=ScheduleKind.INTERVAL, expression=f"{seconds}s", **options)


def minute(now: datetime, minutes: float, seconds: float = 0) -> datetime:
    """``now`` (08:00) plus minutes and seconds."""
    return now + timedelta(minutes=minutes, seconds=seconds)


def fire(store: Store, at: datetime) -> list[FireReport]:
    return store.fire_due_schedules(at, service_account=SERVICE)


def fire_until_idle(store: Store, at: datetime) -> list[FireReport]:
    """Fire until nothing is due at ``at`` (a long backlog takes several passes)."""
    reports: list[FireReport] = []
    for _ in range(10):
        batch = fire(store, at)
        if not batch:
            return reports
        reports.extend(batch)
    raise AssertionError("fire_due_schedules kept finding due schedules")


def occurrences(
    store: Store, **filters: Any
) -> list[tuple[datetime, OccurrenceOutcome, int | None]]:
    """``(nominal time, outcome, run id)``, oldest nominal time first."""
    found = store.list_occurrences(OccurrenceFilter(limit=100_000, **filters))
    return [(o.nominal_time, o.outcome, o.run_id) for o in reversed(found)]


def runs_of(store: Store, job: str = JOB) -> list[Run]:
    """Runs of ``job``, oldest first."""
    return list(reversed(store.list_runs(RunFilter(job=job, limit=1000))))


def sync(ops: Ops, *schedules: ScheduleSpec, job: str = JOB, **fields: Any) -> None:
    ops.store.sync_jobs([ops.definition(job, schedules=schedules, **fields)], ops.now)


def set_stored_spec(store: Store, schedule_id: str, spec: dict[str, Any]) -> None:
    """Write a schedule's spec JSON behind the store's back (a corrupt or hand-edited row)."""
    engine: sa.Engine = store._engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(
            sa.update(t.schedules).where(t.schedules.c.id == schedule_id).values(spec=spec)
        )


# -- sync_jobs writes a definition's schedules -------------------------------------------------


def test_sync_writes_definition_schedules_with_next_fire_from_now(store: Store, ops: Ops) -> None:
    sync(ops, every(60), ScheduleSpec(kind=ScheduleKind.CRON, expression="*/15 * * * *", id="q"))

    listed = store.list_schedules(job=JOB)

    assert [(s.id, s.origin, s.next_fire_at) for s in listed] == [
        ("q", "definition", minute(ops.now, 15)),
        (SID, "definition", minute(ops.now, 1)),
    ]
    first = store.get_schedule(SID)
    assert first.job == JOB and first.tenant == "default"
    assert first.spec.expression == "60s" and first.spec.kind is ScheduleKind.INTERVAL
    assert not first.paused and not first.removed
    assert first.last_nominal is None and first.last_outcome is None
    assert first.description
    assert store.list_schedules(job="other.job") == []


def test_resync_of_an_unchanged_schedule_keeps_its_next_fire(store: Store, ops: Ops) -> None:
    sync(ops, every(60))

    # Ten minutes later nothing has fired yet: 08:01 is still owed.
    store.sync_jobs([ops.definition(JOB, schedules=(every(60),))], minute(ops.now, 10, 30))

    assert store.get_schedule(SID).next_fire_at == minute(ops.now, 1)


def test_resync_with_a_changed_expression_recomputes_the_next_fire(store: Store, ops: Ops) -> None:
    sync(ops, every(60))
    before = store.get_schedule(SID)

    store.sync_jobs([ops.definition(JOB, schedules=(every(120),))], minute(ops.now, 10, 30))

    after = store.get_schedule(SID)
    assert after.spec.expression == "120s"
    assert after.next_fire_at == minute(ops.now, 12)
    assert after.description != before.description
    assert after.updated_at == minute(ops.now, 10, 30)


def test_a_schedule_dropped_from_the_definition_is_marked_removed(store: Store, ops: Ops) -> None:
    sync(ops, every(60, id="keep"), every(300, id="drop"))

    store.sync_jobs([ops.definition(JOB, schedules=(every(60, id="keep"),))], ops.later(1))

    assert [s.id for s in store.list_schedules()] == ["keep"]
    dropped = {s.id: s for s in store.list_schedules(include_removed=True)}["drop"]
    assert dropped.removed and dropped.next_fire_at is None
    reports = fire(store, minute(ops.now, 5))
    assert [r.schedule_id for r in reports] == ["keep"]
    assert occurrences(store, schedule_id="drop") == []


def test_remove_missing_removes_the_schedules_of_a_removed_job(store: Store, ops: Ops) -> None:
    store.sync_jobs(
        [
            ops.definition("a.job", schedules=(every(60),)),
            ops.definition("b.job", schedules=(every(60),)),
        ],
        ops.now,
    )

    store.sync_jobs(
        [ops.definition("a.job", schedules=(every(60),))], ops.later(1), remove_missing=True
    )

    assert [s.id for s in store.list_schedules()] == ["a.job:1"]
    assert store.get_schedule("b.job:1").removed
    assert [r.schedule_id for r in fire(store, minute(ops.now, 1))] == ["a.job:1"]
    assert runs_of(store, "b.job") == []


# -- fire_due_schedules: one run per nominal time ----------------------------------------------


def test_a_due_nominal_time_becomes_exactly_one_run(store: Store, ops: Ops) -> None:
    params = ParamSchema(
        (
            ParamSpec(name="day", type=ParamType.DATE, default="today"),
            ParamSpec(name="limit", type=ParamType.INT, default=10),
            ParamSpec(name="mode", type=ParamType.CHOICE, choices=("full", "delta")),
        )
    )
    sync(ops, every(60, params={"limit": "5", "mode": "delta"}), params=params, priority=7)
    at = minute(ops.now, 1)

    reports = fire(store, at)

    [run] = runs_of(store)
    assert reports == [
        FireReport(
            schedule_id=SID,
            job=JOB,
            occurrences=((at, RAN, run.id),),
            next_fire_at=minute(ops.now, 2),
        )
    ]
    assert run.trigger is Trigger.SCHEDULE
    assert run.triggered_by == SERVICE and run.run_as == SERVICE
    assert run.schedule_id == SID and run.scheduled_for == at
    assert run.params == {"day": "2026-11-20", "limit": 5, "mode": "delta"}
    assert run.status is QUEUED and run.waits_for is None
    assert run.job_version == 1 and run.priority == 7
    assert run.due_at == at
    assert occurrences(store) == [(at, RAN, run.id)]
    [occurrence] = store.list_occurrences(OccurrenceFilter())
    assert (occurrence.schedule_id, occurrence.job, occurrence.recorded_at) == (SID, JOB, at)
    schedule = store.get_schedule(SID)
    assert schedule.next_fire_at == minute(ops.now, 2)
    assert schedule.last_nominal == at and schedule.last_outcome == "ran"

    assert fire(store, at) == []
    assert fire(store, minute(ops.now, 1, 59)) == []
    assert store.count_runs() == 1
    assert len(occurrences(store)) == 1


def test_schedule_params_that_the_job_refuses_break_the_schedule_not_the_pass(
    store: Store, ops: Ops
) -> None:
    params = ParamSchema((ParamSpec(name="limit", type=ParamType.INT),))
    store.sync_jobs(
        [
            ops.definition(
                "bad.job", schedules=(every(60, params={"limit": "many"}),), params=params
            ),
            ops.definition("good.job", schedules=(every(60),)),
        ],
        ops.now,
    )

    reports = {r.schedule_id: r for r in fire(store, minute(ops.now, 1))}

    assert reports["bad.job:1"].error is not None and "params.limit" in reports["bad.job:1"].error
    assert reports["bad.job:1"].occurrences == ()
    assert [o[1] for o in reports["good.job:1"].occurrences] == [RAN]
    assert runs_of(store, "bad.job") == []
    assert store.get_schedule("bad.job:1").last_outcome == "error"


def test_a_once_schedule_fires_once_and_then_has_no_next_fire(store: Store, ops: Ops) -> None:
    sync(ops, ScheduleSpec(kind=ScheduleKind.ONCE, expression="2026-11-20T08:05:00+00:00"))
    assert store.get_schedule(SID).next_fire_at == minute(ops.now, 5)

    [report] = fire(store, minute(ops.now, 30))

    [run] = runs_of(store)
    assert report.occurrences == ((minute(ops.now, 5), RAN, run.id),)
    assert report.next_fire_at is None
    assert store.get_schedule(SID).next_fire_at is None
    assert store.next_fire_time() is None
    assert fire(store, minute(ops.now, 600)) == []


def test_limit_bounds_the_schedules_of_one_pass_earliest_due_first(store: Store, ops: Ops) -> None:
    store.sync_jobs(
        [
            ops.definition("a.job", schedules=(every(300),)),
            ops.definition("b.job", schedules=(every(60),)),
            ops.definition("c.job", schedules=(every(120),)),
        ],
        ops.now,
    )
    at = minute(ops.now, 5)

    first = store.fire_due_schedules(at, limit=2, service_account=SERVICE)
    second = store.fire_due_schedules(at, limit=2, service_account=SERVICE)

    assert [r.schedule_id for r in first] == ["b.job:1", "c.job:1"]
    assert [r.schedule_id for r in second] == ["a.job:1"]
    assert store.fire_due_schedules(at, limit=2, service_account=SERVICE) == []


def test_a_schedule_change_synced_while_it_fires_does_not_stall_the_scheduler(
    store: Store, ops: Ops
) -> None:
    store.sync_jobs(
        [
            ops.definition("a.job", schedules=(every(60),)),
            ops.definition("b.job", schedules=(every(60),)),
        ],
        ops.now,
    )
    fire(store, minute(ops.now, 1))
    # `rota jobs sync` took its `now` at 08:00:59, loaded the project, and committed after the
    # scheduler had fired 08:01: the changed schedule's next fire is 08:01 again.
    store.sync_jobs(
        [
            ops.definition("a.job", schedules=(every(60, grace=30),)),
            ops.definition("b.job", schedules=(every(60),)),
        ],
        minute(ops.now, 0, 59),
    )

    fire(store, minute(ops.now, 2))

    assert [o[0] for o in occurrences(store, job="b.job")] == [
        minute(ops.now, 1),
        minute(ops.now, 2),
    ]
    assert [o[0] for o in occurrences(store, job="a.job")] == [
        minute(ops.now, 1),
        minute(ops.now, 2),
    ]


# -- missed-run policies after downtime --------------------------------------------------------


def test_missed_skip_records_late_times_and_runs_the_one_on_time(store: Store, ops: Ops) -> None:
    sync(ops, every(60, missed=MissedPolicy.SKIP, grace=10))

    fire(store, minute(ops.now, 10, 5))  # 08:10 is 5 s late: within grace

    [run] = runs_of(store)
    assert run.scheduled_for == minute(ops.now, 10) and run.trigger is Trigger.SCHEDULE
    assert occurrences(store) == [(minute(ops.now, m), MISSED, None) for m in range(1, 10)] + [
        (minute(ops.now, 10), RAN, run.id)
    ]
    assert store.get_schedule(SID).next_fire_at == minute(ops.now, 11)


def test_missed_skip_runs_nothing_when_every_time_is_late(store: Store, ops: Ops) -> None:
    sync(ops, every(60, missed=MissedPolicy.SKIP, grace=10))

    fire(store, minute(ops.now, 10, 30))

    assert runs_of(store) == []
    assert occurrences(store) == [(minute(ops.now, m), MISSED, None) for m in range(1, 11)]
    assert store.get_schedule(SID).last_outcome == "skipped:missed"


def test_missed_latest_runs_the_latest_time_and_coalesces_the_others_into_it(
    store: Store, ops: Ops
) -> None:
    sync(ops, every(60, missed=MissedPolicy.LATEST, grace=10))

    [report] = fire(store, minute(ops.now, 10, 30))

    [run] = runs_of(store)
    assert run.trigger is Trigger.CATCH_UP
    assert run.scheduled_for == minute(ops.now, 10)
    assert run.triggered_by == SERVICE and run.status is QUEUED
    assert occurrences(store) == [(minute(ops.now, m), COALESCED, run.id) for m in range(1, 10)] + [
        (minute(ops.now, 10), RAN, run.id)
    ]
    assert report.occurrences == tuple(occurrences(store))
    assert report.next_fire_at == minute(ops.now, 11)


def test_missed_all_replays_inside_the_window_up_to_max_catch_up_one_after_another(
    store: Store, ops: Ops
) -> None:
    sync(ops, every(60, missed=MissedPolicy.ALL, grace=10, catch_up_window=300, max_catch_up=3))
    at = minute(ops.now, 10, 30)  # the window starts at 08:05:30

    fire(store, at)

    first, second, third = runs_of(store)
    assert [r.scheduled_for for r in (first, second, third)] == [
        minute(ops.now, 8),
        minute(ops.now, 9),
        minute(ops.now, 10),
    ]
    assert {r.trigger for r in (first, second, third)} == {Trigger.CATCH_UP}
    assert (first.status, first.waits_for) == (QUEUED, None)
    assert (second.status, second.waits_for) == (PENDING, first.id)
    assert (third.status, third.waits_for) == (PENDING, second.id)
    found = store.list_occurrences(OccurrenceFilter(schedule_id=SID))
    assert [(o.nominal_time, o.outcome, o.run_id, o.detail) for o in reversed(found)] == [
        *[(minute(ops.now, m), MISSED, None, "older than the window") for m in range(1, 6)],
        (minute(ops.now, 6), MISSED, None, None),
        (minute(ops.now, 7), MISSED, None, None),
        (minute(ops.now, 8), RAN, first.id, None),
        (minute(ops.now, 9), RAN, second.id, None),
        (minute(ops.now, 10), RAN, third.id, None),
    ]

    # Only the head of the chain is claimable; ending it releases the next one.
    [claim] = ops.claim(at=at)
    assert claim.run_id == first.id
    assert ops.finish(claim, COMPLETED, at=minute(ops.now, 10, 40))
    assert store.get_run(second.id).status is QUEUED
    assert store.get_run(third.id).status is PENDING
    assert ops.statuses(second.id) == [(None, PENDING), (PENDING, QUEUED)]
    assert store.get_history(second.id)[-1].reason == f"run {first.id} ended"

    [claim] = ops.claim(at=minute(ops.now, 10, 40))
    assert claim.run_id == second.id
    assert ops.finish(claim, RunStatus.FAILED, at=minute(ops.now, 10, 50))
    assert store.get_run(third.id).status is QUEUED
    assert [c.run_id for c in ops.claim(at=minute(ops.now, 10, 50))] == [third.id]


def test_ten_thousand_missed_times_under_latest_make_one_run(store: Store, ops: Ops) -> None:
    sync(ops, every(1, missed=MissedPolicy.LATEST, grace=0))
    first = ops.later(1)
    at = first + timedelta(seconds=10_000)

    fire_until_idle(store, at)

    [run] = runs_of(store)
    assert run.scheduled_for == at
    found = occurrences(store)
    assert len(found) == 10_001
    assert Counter(o[1] for o in found) == {COALESCED: 10_000, RAN: 1}
    assert found[0][0] == first and found[-1] == (at, RAN, run.id)
    assert [n for n, _, _ in found] == [first + timedelta(seconds=s) for s in range(10_001)]
    assert store.get_schedule(SID).next_fire_at == at + timedelta(seconds=1)
    assert fire(store, at) == []


def test_every_coalesced_time_of_a_long_backlog_points_at_the_run_that_stands_for_it(
    store: Store, ops: Ops, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_schedules, "BACKLOG_CHUNK", 4)  # the same as 10,000, quicker
    sync(ops, every(1, missed=MissedPolicy.LATEST, grace=0))
    at = ops.later(1) + timedelta(seconds=9)

    fire_until_idle(store, at)

    [run] = runs_of(store)
    assert {o[2] for o in occurrences(store, outcome=COALESCED)} == {run.id}


# -- overlap policies --------------------------------------------------------------------------


def test_overlap_skip_records_skipped_overlap_while_a_run_is_unfinished(
    store: Store, ops: Ops
) -> None:
    sync(ops, every(60))  # the job's default overlap policy is skip
    running = ops.start()

    [report] = fire(store, minute(ops.now, 1))

    assert report.occurrences == ((minute(ops.now, 1), OVERLAP, None),)
    [occurrence] = store.list_occurrences(OccurrenceFilter())
    assert occurrence.detail is not None and "unfinished run" in occurrence.detail
    assert [r.id for r in runs_of(store)] == [running.run_id]

    # Once the run ended, the next nominal time runs.
    ops.finish(running, COMPLETED, at=minute(ops.now, 1, 30))
    [report] = fire(store, minute(ops.now, 2))
    assert [o[1] for o in report.occurrences] == [RAN]


def test_overlap_queue_waits_behind_the_running_run_and_coalesces_a_second_fire(
    store: Store, ops: Ops
) -> None:
    sync(ops, every(60), overlap=OverlapPolicy.QUEUE)
    running = ops.start()

    fire(store, minute(ops.now, 1))
    [_, waiting] = runs_of(store)
    assert (waiting.status, waiting.waits_for) == (PENDING, running.run_id)
    assert waiting.trigger is Trigger.SCHEDULE and waiting.scheduled_for == minute(ops.now, 1)

    [report] = fire(store, minute(ops.now, 2))

    assert report.occurrences == ((minute(ops.now, 2), COALESCED, waiting.id),)
    [latest] = store.list_occurrences(OccurrenceFilter(limit=1))
    assert latest.detail is not None and f"run {waiting.id}" in latest.detail
    assert store.count_runs() == 2
    assert occurrences(store) == [
        (minute(ops.now, 1), RAN, waiting.id),
        (minute(ops.now, 2), COALESCED, waiting.id),
    ]

    ops.finish(running, COMPLETED, at=minute(ops.now, 2, 10))
    assert store.get_run(waiting.id).status is QUEUED
    [claim] = ops.claim(at=minute(ops.now, 2, 10))
    assert claim.run_id == waiting.id

    # Running now: the next fire waits behind it again.
    fire(store, minute(ops.now, 3))
    newest = runs_of(store)[-1]
    assert (newest.status, newest.waits_for) == (PENDING, waiting.id)


def test_overlap_allow_starts_a_second_run(store: Store, ops: Ops) -> None:
    sync(ops, every(60), overlap=OverlapPolicy.ALLOW)
    running = ops.start()

    fire(store, minute(ops.now, 1))

    [first, second] = runs_of(store)
    assert first.id == running.run_id and first.status is RUNNING
    assert (second.status, second.waits_for) == (QUEUED, None)
    assert occurrences(store) == [(minute(ops.now, 1), RAN, second.id)]


def test_overlap_cancel_previous_cancels_the_queued_run_and_waits_for_the_running_one(
    store: Store, ops: Ops
) -> None:
    sync(ops, every(60), overlap=OverlapPolicy.CANCEL_PREVIOUS)
    ops.enqueue(2)
    [running] = ops.claim(limit=1)
    queued_id = running.run_id + 1
    at = minute(ops.now, 1)

    fire(store, at)

    queued = store.get_run(queued_id)
    assert queued.status is CANCELED
    assert queued.reason is not None and SID in queued.reason
    assert store.get_history(queued_id)[-1].actor == SERVICE
    previous = store.get_run(running.run_id)
    assert previous.status is RUNNING and previous.cancel_requested
    new = runs_of(store)[-1]
    assert (new.status, new.waits_for) == (PENDING, running.run_id)
    assert occurrences(store) == [(at, RAN, new.id)]

    # The worker stops the canceled run; the new one is released.
    ops.finish(running, CANCELED, at=minute(ops.now, 1, 5), reason="canceled")
    assert store.get_run(new.id).status is QUEUED


@pytest.mark.parametrize(
    ("job_policy", "schedule_policy", "outcome", "status"),
    [
        (OverlapPolicy.ALLOW, None, RAN, QUEUED),
        (OverlapPolicy.ALLOW, OverlapPolicy.SKIP, OVERLAP, None),
        (OverlapPolicy.SKIP, OverlapPolicy.ALLOW, RAN, QUEUED),
        (OverlapPolicy.SKIP, OverlapPolicy.QUEUE, RAN, PENDING),
        (OverlapPolicy.QUEUE, None, RAN, PENDING),
    ],
)
def test_a_schedule_overlap_policy_overrides_the_jobs(
    store: Store,
    ops: Ops,
    job_policy: OverlapPolicy,
    schedule_policy: OverlapPolicy | None,
    outcome: OccurrenceOutcome,
    status: RunStatus | None,
) -> None:
    sync(ops, every(60, overlap=schedule_policy), overlap=job_policy)
    ops.start()

    [report] = fire(store, minute(ops.now, 1))

    [(_, got, run_id)] = report.occurrences
    assert got is outcome
    assert (store.get_run(run_id).status if run_id else None) is status


# -- business calendars ------------------------------------------------------------------------


def test_a_holiday_of_an_excluded_calendar_skips_the_nominal_time(store: Store, ops: Ops) -> None:
    holidays = BusinessCalendar(id="holidays", dates=(date(2026, 11, 20),))
    store.sync_calendars([holidays], ops.now)
    sync(ops, every(60, exclude=("holidays",)))

    fire(store, minute(ops.now, 1))

    found = store.list_occurrences(OccurrenceFilter())
    assert [(o.nominal_time, o.outcome, o.run_id, o.detail) for o in found] == [
        (minute(ops.now, 1), BLACKOUT, None, "holidays: holiday 2026-11-20")
    ]
    assert runs_of(store) == []
    assert store.list_calendars() == [holidays]


def test_a_maintenance_window_skips_only_the_times_inside_it(store: Store, ops: Ops) -> None:
    window = BusinessCalendar(
        id="maint", tz="UTC", windows=(TimeWindow(from_time="08:00", to_time="08:02"),)
    )
    store.sync_calendars([window], ops.now)
    sync(ops, every(60, exclude=("maint",)), overlap=OverlapPolicy.ALLOW)

    fire(store, minute(ops.now, 1))
    fire(store, minute(ops.now, 2))

    [run] = runs_of(store)
    found = store.list_occurrences(OccurrenceFilter())
    assert [(o.nominal_time, o.outcome, o.run_id, o.detail) for o in reversed(found)] == [
        (minute(ops.now, 1), BLACKOUT, None, "maint: maintenance window"),
        (minute(ops.now, 2), RAN, run.id, None),
    ]


def test_a_calendar_that_is_not_synced_is_a_schedule_error(store: Store, ops: Ops) -> None:
    store.sync_calendars([BusinessCalendar(id="gone")], ops.now)
    sync(ops, every(60, exclude=("gone",)))
    store.sync_calendars([], ops.later(1))

    [report] = fire(store, minute(ops.now, 1))

    assert report.error is not None and "gone" in report.error
    assert report.next_fire_at is not None and report.next_fire_at > minute(ops.now, 1)
    assert occurrences(store) == [] and runs_of(store) == []


# -- jobs that are not scheduled ---------------------------------------------------------------


def test_an_inactive_job_is_not_scheduled_and_its_next_fire_moves_on(
    store: Store, ops: Ops
) -> None:
    sync(ops, every(60), active=False)

    [report] = fire(store, minute(ops.now, 5, 30))

    assert report.occurrences == () and report.error is None
    assert report.next_fire_at == minute(ops.now, 6)
    assert store.get_schedule(SID).next_fire_at == minute(ops.now, 6)
    assert occurrences(store) == [] and runs_of(store) == []


def test_an_expired_job_is_not_scheduled_after_it_expired(store: Store, ops: Ops) -> None:
    sync(ops, every(60), expires_at=minute(ops.now, 1, 30))

    fire(store, minute(ops.now, 1))
    [report] = fire(store, minute(ops.now, 5, 30))

    assert report.occurrences == ()
    assert store.get_schedule(SID).next_fire_at == minute(ops.now, 6)
    [run] = runs_of(store)
    assert occurrences(store) == [(minute(ops.now, 1), RAN, run.id)]


def test_a_disabled_group_is_not_scheduled_and_resumes_from_the_time_it_is_enabled(
    store: Store, ops: Ops
) -> None:
    sync(ops, every(60), group="nightly")
    group = store.set_group_enabled("nightly", False, "freeze", "alice", ops.later(10))
    assert (group.enabled, group.note, group.changed_by, group.jobs) == (
        False,
        "freeze",
        "alice",
        (JOB,),
    )

    [report] = fire(store, minute(ops.now, 5, 30))
    assert report.occurrences == ()
    assert store.get_schedule(SID).next_fire_at == minute(ops.now, 6)

    store.set_group_enabled("nightly", True, None, "alice", minute(ops.now, 40, 30))

    assert store.get_schedule(SID).next_fire_at == minute(ops.now, 41)
    assert fire(store, minute(ops.now, 40, 30)) == []
    fire(store, minute(ops.now, 41))
    [run] = runs_of(store)
    assert occurrences(store) == [(minute(ops.now, 41), RAN, run.id)]
    assert [(g.name, g.enabled) for g in store.list_groups()] == [("nightly", True)]


def test_a_group_disabled_with_nothing_fired_still_resumes_from_the_enable_time(
    store: Store, ops: Ops
) -> None:
    sync(ops, every(60), group="nightly")
    store.set_group_enabled("nightly", False, None, "alice", ops.later(10))

    store.set_group_enabled("nightly", True, None, "alice", minute(ops.now, 40, 30))
    fire(store, minute(ops.now, 41))

    [run] = runs_of(store)
    assert occurrences(store) == [(minute(ops.now, 41), RAN, run.id)]


def test_enabling_an_enabled_group_keeps_a_due_nominal_time(store: Store, ops: Ops) -> None:
    sync(ops, every(60), group="nightly")
    store.set_group_enabled("nightly", True, None, "alice", ops.later(10))

    # 08:01 is due but no scheduler has fired it yet when someone enables the group.
    store.set_group_enabled("nightly", True, None, "alice", minute(ops.now, 1, 30))
    fire(store, minute(ops.now, 1, 30))

    assert [o[0] for o in occurrences(store)] == [minute(ops.now, 1)]


# -- pause and resume --------------------------------------------------------------------------


def test_a_paused_schedule_does_not_fire_and_resumes_after_the_resume_time(
    store: Store, ops: Ops
) -> None:
    sync(ops, every(60))

    paused = store.pause_schedule(SID, True, "data migration", "alice", ops.later(30))

    assert (paused.paused, paused.pause_note, paused.paused_by) == (True, "data migration", "alice")
    assert fire(store, minute(ops.now, 5)) == []
    assert store.next_fire_time() is None

    resumed = store.pause_schedule(SID, False, None, "bob", minute(ops.now, 10, 30))

    assert not resumed.paused
    assert resumed.next_fire_at == minute(ops.now, 11)
    assert store.next_fire_time() == minute(ops.now, 11)
    assert fire(store, minute(ops.now, 10, 30)) == []
    fire(store, minute(ops.now, 11))
    [run] = runs_of(store)
    assert occurrences(store) == [(minute(ops.now, 11), RAN, run.id)]


def test_pausing_a_removed_schedule_is_a_conflict(store: Store, ops: Ops) -> None:
    sync(ops, every(60, id="a"), every(60, id="b"))
    store.sync_jobs([ops.definition(JOB, schedules=(every(60, id="a"),))], ops.later(1))

    with pytest.raises(ConflictError):
        store.pause_schedule("b", True, None, "alice", ops.later(2))


# -- api schedules -----------------------------------------------------------------------------


def test_put_schedule_adds_an_api_schedule_that_fires_and_survives_a_sync(
    store: Store, ops: Ops
) -> None:
    sync(ops)
    spec = ScheduleSpec(kind=ScheduleKind.CRON, expression="*/5 * * * *", id="adhoc")

    put = store.put_schedule(JOB, spec, ops.now)

    assert (put.id, put.job, put.origin, put.next_fire_at) == (
        "adhoc",
        JOB,
        "api",
        minute(ops.now, 5),
    )
    store.sync_jobs([ops.definition(JOB, description="changed")], ops.later(1))
    assert store.get_schedule("adhoc").next_fire_at == minute(ops.now, 5)
    fire(store, minute(ops.now, 5))
    [run] = runs_of(store)
    assert run.schedule_id == "adhoc" and run.scheduled_for == minute(ops.now, 5)
    assert run.job_version == 2

    replaced = store.put_schedule(JOB, every(120, id="adhoc"), minute(ops.now, 6, 30))
    assert replaced.spec.kind is ScheduleKind.INTERVAL
    assert replaced.next_fire_at == minute(ops.now, 8)


def test_delete_schedule_removes_an_api_schedule_but_keeps_its_occurrences(
    store: Store, ops: Ops
) -> None:
    sync(ops)
    store.put_schedule(JOB, every(60, id="adhoc"), ops.now)
    fire(store, minute(ops.now, 1))

    store.delete_schedule("adhoc", minute(ops.now, 1, 30))

    assert store.list_schedules() == []
    removed = store.get_schedule("adhoc")
    assert removed.removed and removed.next_fire_at is None
    assert fire(store, minute(ops.now, 10)) == []
    assert [o[1] for o in occurrences(store, schedule_id="adhoc")] == [RAN]
    assert store.next_fire_time() is None


def test_definition_schedules_cannot_be_changed_through_the_api(store: Store, ops: Ops) -> None:
    sync(ops, every(60))

    with pytest.raises(ConflictError):
        store.put_schedule(JOB, every(5, id=SID), ops.later(1))
    with pytest.raises(ConflictError):
        store.delete_schedule(SID, ops.later(1))

    kept = store.get_schedule(SID)
    assert (kept.spec.expression, kept.origin, kept.removed) == ("60s", "definition", False)


def test_unknown_schedules_and_jobs_are_not_found(store: Store, ops: Ops) -> None:
    sync(ops)

    with pytest.raises(NotFoundError):
        store.get_schedule("nope")
    with pytest.raises(NotFoundError):
        store.delete_schedule("nope", ops.now)
    with pytest.raises(NotFoundError):
        store.pause_schedule("nope", True, None, "alice", ops.now)
    with pytest.raises(NotFoundError):
        store.put_schedule("no.such.job", every(60, id="x"), ops.now)
    assert store.list_schedules(include_removed=True) == []


# -- reading occurrences and the next fire time ------------------------------------------------


def test_list_occurrences_filters_by_schedule_job_and_outcome_newest_first(
    store: Store, ops: Ops
) -> None:
    store.sync_jobs(
        [
            ops.definition("a.job", schedules=(every(60, missed=MissedPolicy.LATEST, grace=10),)),
            ops.definition("b.job", schedules=(every(120, missed=MissedPolicy.SKIP, grace=10),)),
        ],
        ops.now,
    )
    fire(store, minute(ops.now, 4, 30))

    [a_run] = runs_of(store, "a.job")
    assert occurrences(store, schedule_id="a.job:1") == [
        (minute(ops.now, 1), COALESCED, a_run.id),
        (minute(ops.now, 2), COALESCED, a_run.id),
        (minute(ops.now, 3), COALESCED, a_run.id),
        (minute(ops.now, 4), RAN, a_run.id),
    ]
    assert occurrences(store, job="b.job") == [
        (minute(ops.now, 2), MISSED, None),
        (minute(ops.now, 4), MISSED, None),
    ]
    assert occurrences(store, outcome=MISSED) == occurrences(store, job="b.job")
    assert occurrences(store, job="a.job", outcome=RAN) == [(minute(ops.now, 4), RAN, a_run.id)]
    assert occurrences(store, schedule_id="a.job:1", outcome=MISSED) == []

    newest = store.list_occurrences(OccurrenceFilter(limit=3))
    assert [o.nominal_time for o in newest] == [
        minute(ops.now, 4),
        minute(ops.now, 4),
        minute(ops.now, 3),
    ]
    assert {o.schedule_id for o in newest[:2]} == {"a.job:1", "b.job:1"}
    assert newest[0].id > newest[1].id  # same nominal time: the later record first
    older = store.list_occurrences(OccurrenceFilter(limit=100, before_id=newest[1].id))
    everything = store.list_occurrences(OccurrenceFilter(limit=100))
    assert older == everything[2:]  # keyset paging continues in the list's own order
    assert len(everything) == 6
    assert [o.nominal_time for o in everything] == sorted(
        (o.nominal_time for o in everything), reverse=True
    )


def test_paging_occurrences_with_before_id_shows_each_one_once(store: Store, ops: Ops) -> None:
    store.sync_jobs(
        [
            ops.definition("a.job", schedules=(every(60, missed=MissedPolicy.SKIP, grace=10),)),
            ops.definition("b.job", schedules=(every(120, missed=MissedPolicy.SKIP, grace=10),)),
        ],
        ops.now,
    )
    # One pass: a.job (due first) records 08:01, 08:02, 08:03; then b.job records 08:02.
    fire(store, minute(ops.now, 3, 30))

    seen: list[int] = []
    before: int | None = None
    for _ in range(10):
        page = store.list_occurrences(OccurrenceFilter(limit=1, before_id=before))
        if not page:
            break
        seen.extend(o.id for o in page)
        before = page[-1].id

    assert sorted(seen) == sorted(o.id for o in store.list_occurrences(OccurrenceFilter()))


def test_next_fire_time_is_the_earliest_of_the_active_schedules(store: Store, ops: Ops) -> None:
    assert store.next_fire_time() is None
    store.sync_jobs(
        [
            ops.definition("a.job", schedules=(every(60),)),
            ops.definition("b.job", schedules=(every(300),)),
            ops.definition("c.job", schedules=(every(600),)),
        ],
        ops.now,
    )
    assert store.next_fire_time() == minute(ops.now, 1)

    store.pause_schedule("a.job:1", True, None, "alice", ops.later(1))
    assert store.next_fire_time() == minute(ops.now, 5)

    store.sync_jobs(
        [ops.definition("a.job", schedules=(every(60),)), ops.definition("c.job")],
        ops.later(2),
    )
    assert store.next_fire_time() == minute(ops.now, 5)
    store.sync_jobs(
        [ops.definition("a.job"), ops.definition("c.job")], ops.later(3), remove_missing=True
    )
    assert store.next_fire_time() is None


# -- a schedule that cannot be read ------------------------------------------------------------


def test_a_corrupt_schedule_is_reported_and_does_not_stop_the_others(
    store: Store, ops: Ops
) -> None:
    store.sync_jobs(
        [
            ops.definition("a.job", schedules=(every(60),)),
            ops.definition("b.job", schedules=(every(60),)),
        ],
        ops.now,
    )
    broken = {**store.get_schedule("a.job:1").spec.to_json(), "kind": "cron"}
    broken["expression"] = "61 25 * * *"
    set_stored_spec(store, "a.job:1", broken)
    at = minute(ops.now, 1)

    reports = {r.schedule_id: r for r in fire(store, at)}

    assert set(reports) == {"a.job:1", "b.job:1"}
    bad = reports["a.job:1"]
    assert bad.error is not None and bad.occurrences == ()
    assert bad.next_fire_at is not None and bad.next_fire_at > at
    [run] = runs_of(store, "b.job")
    assert reports["b.job:1"].occurrences == ((at, RAN, run.id),)
    assert reports["b.job:1"].error is None
    assert runs_of(store, "a.job") == []
    assert store.get_schedule("a.job:1").last_outcome == "error"
    assert occurrences(store, schedule_id="a.job:1") == []
    assert fire(store, at) == []


# -- several schedulers on one database --------------------------------------------------------


def test_two_stores_firing_at_the_same_moment_record_each_nominal_time_once(
    store: Store, ops: Ops, open_peer: Callable[[], Store]
) -> None:
    jobs = [f"job.{n}" for n in range(8)]
    spec = every(60, missed=MissedPolicy.ALL, grace=10, max_catch_up=5)
    store.sync_jobs(
        [ops.definition(j, schedules=(spec,), overlap=OverlapPolicy.ALLOW) for j in jobs], ops.now
    )
    stores = [store, open_peer()]
    moments = [minute(ops.now, 3, 30), minute(ops.now, 7, 30), minute(ops.now, 8)]
    reports: list[FireReport] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    for at in moments:
        barrier = threading.Barrier(len(stores))

        def scheduler(peer: Store, at: datetime = at, barrier: threading.Barrier = barrier) -> None:
            try:
                barrier.wait(10)
                got = fire_until_idle(peer, at)
                with lock:
                    reports.extend(got)
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=scheduler, args=(s,)) for s in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors, errors

    nominal = [minute(ops.now, m) for m in range(1, 9)]
    for job in jobs:
        assert [o[:2] for o in occurrences(store, job=job)] == [(n, RAN) for n in nominal]
        assert [r.scheduled_for for r in runs_of(store, job)] == nominal
    reported = Counter((r.schedule_id, n) for r in reports for n, _, _ in r.occurrences)
    assert len(reported) == len(jobs) * len(nominal)
    assert set(reported.values()) == {1}
    assert store.count_runs() == len(jobs) * len(nominal)


def test_fire_times_are_aware_utc(store: Store, ops: Ops) -> None:
    sync(ops, every(60))
    fire(store, minute(ops.now, 1))

    schedule = store.get_schedule(SID)
    [occurrence] = store.list_occurrences(OccurrenceFilter())
    for value in (schedule.next_fire_at, schedule.last_nominal, occurrence.nominal_time):
        assert value is not None and value.utcoffset() == timedelta(0)
    assert occurrence.nominal_time == datetime(2026, 11, 20, 8, 1, tzinfo=UTC)
