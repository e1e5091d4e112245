"""plan_fires: which due nominal times become runs, with ``now`` passed in.

skip: late times are missed, on-time ones run; latest: only the latest due time runs, the
earlier ones are coalesced; all: missed times inside the window are replayed (the latest
max_catch_up, in order), older or surplus ones are missed. Blackouts win over every policy.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rota.model.schedules import MissedPolicy, ScheduleKind, ScheduleSpec
from rota.schedules.misfire import Action, Fire, collect_due, plan_fires

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SKIP, LATEST, ALL = MissedPolicy.SKIP, MissedPolicy.LATEST, MissedPolicy.ALL


def spec(
    missed: MissedPolicy,
    *,
    grace: float = 60.0,
    window: float = 86_400.0,
    max_catch_up: int = 10,
) -> ScheduleSpec:
    return ScheduleSpec(
        kind=ScheduleKind.CRON,
        expression="@hourly",
        missed=missed,
        grace=grace,
        catch_up_window=window,
        max_catch_up=max_catch_up,
    )


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def hours_ago(*hours: int) -> list[datetime]:
    return [ago(hours=h) for h in hours]


def summary(fires: list[Fire]) -> list[tuple[datetime, Action, bool]]:
    return [(f.nominal, f.action, f.late) for f in fires]


def by_nominal(fires: list[Fire]) -> dict[datetime, Action]:
    result = {f.nominal: f.action for f in fires}
    assert len(result) == len(fires), "a nominal time was decided twice"
    return result


def runs(fires: list[Fire]) -> list[datetime]:
    return [f.nominal for f in fires if f.action is Action.RUN]


def blackout_at(
    *instants: datetime, reason: str = "ops: maintenance window"
) -> Callable[[datetime], str | None]:
    blocked = set(instants)
    return lambda nominal: reason if nominal in blocked else None


class TestSkip:
    def test_late_times_are_missed(self) -> None:
        fires = plan_fires(hours_ago(3, 2, 1), NOW, spec(SKIP))
        assert summary(fires) == [(t, Action.MISSED, True) for t in hours_ago(3, 2, 1)]

    def test_an_on_time_fire_among_missed_ones_runs(self) -> None:
        due = [*hours_ago(2, 1), ago(seconds=30)]
        fires = plan_fires(due, NOW, spec(SKIP))
        assert summary(fires) == [
            (due[0], Action.MISSED, True),
            (due[1], Action.MISSED, True),
            (due[2], Action.RUN, False),
        ]


class TestGrace:
    @pytest.mark.parametrize("policy", list(MissedPolicy))
    def test_exactly_grace_late_is_on_time(self, policy: MissedPolicy) -> None:
        fires = plan_fires([ago(seconds=60)], NOW, spec(policy, grace=60))
        assert summary(fires) == [(ago(seconds=60), Action.RUN, False)]

    def test_a_microsecond_past_grace_is_late(self) -> None:
        nominal = ago(seconds=60, microseconds=1)
        assert summary(plan_fires([nominal], NOW, spec(SKIP, grace=60))) == [
            (nominal, Action.MISSED, True)
        ]
        assert summary(plan_fires([nominal], NOW, spec(LATEST, grace=60))) == [
            (nominal, Action.RUN, True)
        ]
        assert summary(plan_fires([nominal], NOW, spec(ALL, grace=60))) == [
            (nominal, Action.RUN, True)
        ]

    def test_zero_grace(self) -> None:
        assert summary(plan_fires([NOW], NOW, spec(SKIP, grace=0))) == [(NOW, Action.RUN, False)]
        late = ago(microseconds=1)
        assert summary(plan_fires([late], NOW, spec(SKIP, grace=0))) == [
            (late, Action.MISSED, True)
        ]


class TestLatest:
    def test_only_the_latest_runs(self) -> None:
        fires = plan_fires(hours_ago(3, 2, 1), NOW, spec(LATEST))
        assert by_nominal(fires) == {
            ago(hours=3): Action.COALESCED,
            ago(hours=2): Action.COALESCED,
            ago(hours=1): Action.RUN,
        }
        assert [f.late for f in fires] == [True, True, True]

    def test_an_on_time_fire_among_missed_ones_is_the_one_that_runs(self) -> None:
        due = [*hours_ago(2, 1), ago(seconds=10)]
        fires = plan_fires(due, NOW, spec(LATEST))
        assert runs(fires) == [due[2]]
        assert next(f for f in fires if f.action is Action.RUN).late is False
        assert [by_nominal(fires)[t] for t in due[:2]] == [Action.COALESCED] * 2

    def test_on_time_fires_all_run_the_missed_policy_is_for_missed_ones(self) -> None:
        due = [*hours_ago(2, 1), ago(seconds=20), ago(seconds=10)]
        fires = plan_fires(due, NOW, spec(LATEST))
        assert runs(fires) == due[2:]
        assert [by_nominal(fires)[t] for t in due[:2]] == [Action.COALESCED] * 2

    def test_ten_thousand_missed_times_make_exactly_one_run(self) -> None:
        due = [ago(minutes=10_000 - i) for i in range(10_000)]
        fires = plan_fires(due, NOW, spec(LATEST))
        assert len(fires) == 10_000
        assert runs(fires) == [due[-1]]
        decided = by_nominal(fires)
        assert set(decided) == set(due)
        assert sum(a is Action.COALESCED for a in decided.values()) == 9_999

    def test_a_blacked_out_latest_does_not_swallow_the_run(self) -> None:
        due = hours_ago(3, 2, 1)
        fires = plan_fires(due, NOW, spec(LATEST), blackout_at(due[2]))
        assert by_nominal(fires) == {
            due[0]: Action.COALESCED,
            due[1]: Action.RUN,
            due[2]: Action.BLACKOUT,
        }

    def test_nothing_due_plans_nothing(self) -> None:
        for policy in MissedPolicy:
            assert plan_fires([], NOW, spec(policy)) == []


class TestAll:
    def test_replays_the_latest_max_catch_up_in_order(self) -> None:
        due = hours_ago(*range(30, 0, -1))  # 30h ago ... 1h ago
        fires = plan_fires(due, NOW, spec(ALL, window=86_400, max_catch_up=5))
        decided = by_nominal(fires)
        assert set(decided) == set(due)
        assert runs(fires) == hours_ago(5, 4, 3, 2, 1)  # the latest five, oldest first
        older = [f for f in fires if f.detail == "older than the window"]
        # 30h..25h ago are older than the 24h window; 24h ago is exactly on its edge.
        assert [f.nominal for f in older] == hours_ago(30, 29, 28, 27, 26, 25)
        surplus = hours_ago(*range(24, 5, -1))
        assert all(decided[t] is Action.MISSED for t in surplus)
        assert all(f.late for f in fires)

    def test_the_window_edge_is_kept(self) -> None:
        fires = plan_fires([ago(hours=24), ago(hours=24, microseconds=1)][::-1], NOW, spec(ALL))
        assert by_nominal(fires) == {
            ago(hours=24, microseconds=1): Action.MISSED,
            ago(hours=24): Action.RUN,
        }

    def test_within_limits_everything_replays(self) -> None:
        due = hours_ago(3, 2, 1)
        fires = plan_fires(due, NOW, spec(ALL))
        assert summary(fires) == [(t, Action.RUN, True) for t in due]

    def test_an_on_time_fire_after_missed_ones(self) -> None:
        due = [*hours_ago(3, 2), ago(seconds=10)]
        fires = plan_fires(due, NOW, spec(ALL))
        assert summary(fires) == [
            (due[0], Action.RUN, True),
            (due[1], Action.RUN, True),
            (due[2], Action.RUN, False),
        ]
        fires = plan_fires(due, NOW, spec(ALL, max_catch_up=1))
        assert by_nominal(fires) == {
            due[0]: Action.MISSED,
            due[1]: Action.RUN,
            due[2]: Action.RUN,
        }
        assert runs(fires) == due[1:]

    def test_max_catch_up_one_is_like_latest_but_missed(self) -> None:
        fires = plan_fires(hours_ago(3, 2, 1), NOW, spec(ALL, max_catch_up=1))
        assert by_nominal(fires) == {
            ago(hours=3): Action.MISSED,
            ago(hours=2): Action.MISSED,
            ago(hours=1): Action.RUN,
        }


class TestBlackouts:
    @pytest.mark.parametrize("policy", list(MissedPolicy))
    def test_a_blackout_is_skipped_with_its_reason(self, policy: MissedPolicy) -> None:
        due = [*hours_ago(2), ago(seconds=5)]
        fires = plan_fires(due, NOW, spec(policy), blackout_at(due[1], reason="ops: holiday"))
        blocked = [f for f in fires if f.action is Action.BLACKOUT]
        assert [(f.nominal, f.detail) for f in blocked] == [(due[1], "ops: holiday")]
        assert by_nominal(fires)[due[1]] is Action.BLACKOUT

    def test_an_on_time_blackout_is_not_late(self) -> None:
        fires = plan_fires([ago(seconds=5)], NOW, spec(SKIP), blackout_at(ago(seconds=5)))
        assert summary(fires) == [(ago(seconds=5), Action.BLACKOUT, False)]

    def test_blackouts_do_not_count_against_max_catch_up(self) -> None:
        due = hours_ago(4, 3, 2, 1)
        fires = plan_fires(due, NOW, spec(ALL, max_catch_up=2), blackout_at(due[3]))
        assert by_nominal(fires) == {
            due[0]: Action.MISSED,
            due[1]: Action.RUN,
            due[2]: Action.RUN,
            due[3]: Action.BLACKOUT,
        }
        assert runs(fires) == due[1:3]

    def test_everything_blacked_out_runs_nothing(self) -> None:
        due = hours_ago(3, 2, 1)
        for policy in MissedPolicy:
            fires = plan_fires(due, NOW, spec(policy), blackout_at(*due))
            assert [f.action for f in fires] == [Action.BLACKOUT] * 3


class TestNotFinal:
    """``final=False``: more due times exist after ``due``; the caller resumes after the last
    nominal time returned."""

    def test_latest_coalesces_every_candidate(self) -> None:
        due = hours_ago(3, 2, 1)
        fires = plan_fires(due, NOW, spec(LATEST), final=False)
        assert summary(fires) == [(t, Action.COALESCED, True) for t in due]

    def test_latest_decides_a_blackout_and_still_coalesces(self) -> None:
        """``final=False`` promises a later time that is not blacked out: it supersedes all."""
        due = hours_ago(3, 2, 1)
        fires = plan_fires(due, NOW, spec(LATEST), blackout_at(due[1]), final=False)
        assert by_nominal(fires) == {
            due[0]: Action.COALESCED,
            due[1]: Action.BLACKOUT,
            due[2]: Action.COALESCED,
        }

    def test_all_leaves_undecided_candidates_out(self) -> None:
        due = hours_ago(3, 2, 1)
        assert plan_fires(due, NOW, spec(ALL), final=False) == []

    def test_all_decides_only_what_cannot_change(self) -> None:
        due = hours_ago(30, 26, 4, 3, 2, 1)
        fires = plan_fires(due, NOW, spec(ALL, max_catch_up=2), final=False)
        # Older than the window, and the two pushed out by the latest two: final already.
        assert summary(fires) == [
            (due[0], Action.MISSED, True),
            (due[1], Action.MISSED, True),
            (due[2], Action.MISSED, True),
            (due[3], Action.MISSED, True),
        ]
        left_out = set(due) - {f.nominal for f in fires}
        assert left_out == set(due[4:])
        assert max(f.nominal for f in fires) < min(left_out)

    def test_all_decides_a_blackout_with_nothing_pending(self) -> None:
        due = hours_ago(3, 2)
        fires = plan_fires(due, NOW, spec(ALL), blackout_at(due[0]), final=False)
        assert summary(fires) == [(due[0], Action.BLACKOUT, False)]

    def test_all_flushes_candidates_at_an_on_time_fire(self) -> None:
        due = [*hours_ago(2, 1), ago(seconds=1)]
        fires = plan_fires(due, NOW, spec(ALL), final=False)
        assert runs(fires) == due

    def test_skip_does_not_depend_on_final(self) -> None:
        due = [*hours_ago(2, 1), ago(seconds=1)]
        assert plan_fires(due, NOW, spec(SKIP), final=False) == plan_fires(due, NOW, spec(SKIP))

    def test_latest_split_before_a_blackout_still_runs_one(self) -> None:
        due = hours_ago(4, 3, 2, 1)
        blackout = blackout_at(due[2], due[3])
        at_once = plan_fires(due, NOW, spec(LATEST), blackout)
        assert runs(at_once) == [due[1]]
        assert runs(_replay(due, spec(LATEST), blackout, chunk=1)) == [due[1]]


class TestCollectDue:
    def test_it_stops_at_now_and_says_it_has_everything(self) -> None:
        times = iter([*hours_ago(2, 1), NOW + timedelta(seconds=1)])
        assert collect_due(times, NOW, spec(LATEST), lambda _: None, 10) == (hours_ago(2, 1), True)

    def test_it_cuts_a_long_backlog_before_a_time_that_could_run(self) -> None:
        due = hours_ago(5, 4, 3, 2, 1)
        blackout = blackout_at(due[2], due[3])
        assert collect_due(iter(due), NOW, spec(LATEST), blackout, 2) == (due[:4], False)

    def test_all_is_not_cut_inside_its_window(self) -> None:
        due = hours_ago(30, 26, 4, 3, 2, 1)
        got, final = collect_due(iter(due), NOW, spec(ALL), lambda _: None, 1)
        assert (got, final) == (due[:1], False)
        got, final = collect_due(iter(due[2:]), NOW, spec(ALL), lambda _: None, 1)
        assert (got, final) == (due[2:], True)


def _replay(
    due: list[datetime],
    policy: ScheduleSpec,
    blackout: Callable[[datetime], str | None],
    chunk: int,
) -> list[Fire]:
    """Decide ``due`` the way the scheduler does: chunks cut by :func:`collect_due`,
    resuming after the last nominal time returned."""
    decided: list[Fire] = []
    rest = list(due)
    while rest:
        batch, final = collect_due(iter(rest), NOW, policy, blackout, chunk)
        fires = plan_fires(batch, NOW, policy, blackout, final=final)
        assert fires, "a pass must always decide something"
        decided += fires
        last = max(f.nominal for f in fires)
        rest = [t for t in rest if t > last]
    return decided


due_lists = st.lists(st.integers(0, 72 * 60), min_size=0, max_size=40, unique=True).map(
    lambda minutes: [ago(minutes=m) for m in sorted(minutes, reverse=True)]
)


class TestProperties:
    @settings(max_examples=200, deadline=None)
    @given(
        due=due_lists,
        policy=st.sampled_from(list(MissedPolicy)),
        max_catch_up=st.integers(1, 5),
        grace=st.sampled_from([0.0, 60.0, 3600.0]),
        blocked=st.sets(st.integers(0, 39), max_size=10),
    )
    def test_every_due_time_is_decided_once(
        self,
        due: list[datetime],
        policy: MissedPolicy,
        max_catch_up: int,
        grace: float,
        blocked: set[int],
    ) -> None:
        schedule = spec(policy, grace=grace, window=12 * 3600, max_catch_up=max_catch_up)
        blackout = blackout_at(*(due[i] for i in blocked if i < len(due)))
        fires = plan_fires(due, NOW, schedule, blackout)
        decided = by_nominal(fires)
        assert set(decided) == set(due)
        open_times = [t for t in due if blackout(t) is None]
        assert all((decided[t] is Action.BLACKOUT) == (blackout(t) is not None) for t in due)
        assert runs(fires) == sorted(runs(fires))
        for fire in fires:
            # ``late`` picks the run's trigger (catch-up or schedule); coalesced ones never run.
            if fire.action is Action.RUN:
                assert fire.late == (NOW - fire.nominal > timedelta(seconds=grace))
            elif fire.action is Action.MISSED:
                assert fire.late
            elif fire.action is Action.BLACKOUT:
                assert not fire.late
        if policy is LATEST:
            # Never "run none": every on-time open time runs; when none is on time, the
            # latest open time runs, and nothing else.
            on_time = [t for t in open_times if NOW - t <= timedelta(seconds=grace)]
            assert runs(fires) == (on_time or open_times[-1:])
        if policy is SKIP:
            assert all(not f.late for f in fires if f.action is Action.RUN)
            assert all(decided[t] is Action.RUN for t in open_times if t >= ago(seconds=grace))
        if policy is ALL:
            late_runs = [f for f in fires if f.action is Action.RUN and f.late]
            assert len(late_runs) <= max_catch_up
            assert all(f.nominal >= ago(hours=12) for f in late_runs)
            on_time = [t for t in open_times if NOW - t <= timedelta(seconds=grace)]
            assert all(decided[t] is Action.RUN for t in on_time)

    @settings(max_examples=200, deadline=None)
    @given(
        due=due_lists,
        policy=st.sampled_from(list(MissedPolicy)),
        max_catch_up=st.integers(1, 5),
        blocked=st.sets(st.integers(0, 39), max_size=10),
        chunk=st.integers(1, 8),
    )
    def test_no_policy_depends_on_chunking(
        self,
        due: list[datetime],
        policy: MissedPolicy,
        max_catch_up: int,
        blocked: set[int],
        chunk: int,
    ) -> None:
        schedule = spec(policy, window=12 * 3600, max_catch_up=max_catch_up)
        blackout = blackout_at(*(due[i] for i in blocked if i < len(due)))
        at_once = by_nominal(plan_fires(due, NOW, schedule, blackout))
        assert by_nominal(_replay(due, schedule, blackout, chunk)) == at_once

    @settings(max_examples=200, deadline=None)
    @given(due=due_lists, chunk=st.integers(1, 8))
    def test_latest_without_blackouts_does_not_depend_on_chunking(
        self, due: list[datetime], chunk: int
    ) -> None:
        at_once = by_nominal(plan_fires(due, NOW, spec(LATEST)))
        assert by_nominal(_replay(due, spec(LATEST), lambda _: None, chunk)) == at_once
