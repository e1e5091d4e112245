"""Scenario 3: three ``rota scheduler`` processes, one killed (``kill -9``) and restarted every
30-90 s, against one PostgreSQL database.

The project has one schedule firing every second and 200 firing every minute (one job with 200
cron schedules ``* * * * *``), all ``overlap: allow`` so that every fire makes a run; no worker
runs, the runs just queue. With two schedulers alive at any moment, nothing is ever missed, so
docs/schedules.md promises: every nominal time exactly once (one occurrence, at most one run),
every one of them ``ran`` (none ``skipped:missed`` or ``coalesced``, since none was later than
its 60 s grace), from the first to the last without a gap. One exception is tolerated and
counted: a known bug (test_fault_schedule_grace.py) coalesces an on-time nominal time into the
next one's run when a pass comes one interval late, which the one-second schedule meets at
minute boundaries (201 schedules due at once). Lateness is reported two ways: run
``created_at`` minus its nominal time (``created_at`` is the pass's clock reading, 50 ms ahead,
taken before its transaction), whose p99 must stay within 1 s outside the few seconds after
each kill; and when the run became visible to a worker (an observer polls every 20 ms), which
shows the commit of a 200-schedule burst and is only held to a gross bound.

``ROTA_FAULTS_SCHEDULER_SECONDS`` sets the length (default 60 s, 600 s when
``ROTA_FAULTS_ROUNDS`` is 100 or more).
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from tests.acceptance.harness import MakeRota, Process, Rota
from tests.faults.history import (
    EVERYTHING,
    History,
    all_runs,
    group,
    report,
    spread,
    tally,
    utc,
)
from tests.faults.support import install, rounds_setting

from rota.model.runs import Trigger
from rota.model.schedules import OccurrenceOutcome
from rota.store.base import OccurrenceFilter

pytestmark = [pytest.mark.acceptance, pytest.mark.postgres]

MINUTE_SCHEDULES = 200
SCHEDULERS = ("scheduler-a", "scheduler-b", "scheduler-c")
AFTER_KILL = 3.0
"""Fires whose nominal time is within this many seconds after a kill (or half a second before)
are left out of the lateness bound."""
LATENESS_P99 = 1.0
GRACE = 60.0
"""The schedules' default ``grace``: a fire later than this is missed."""
VISIBLE_GUARD = 10.0
"""A gross bound on how late a run becomes visible (claimable): far from the 1 s goal, only a
guard against regressions; the figures say how late it really is."""
LOOK_BEHIND = 2000


def _clock_yaml() -> str:
    minutes = "\n".join(
        f'    - {{cron: "* * * * *", id: minute-{n:03d}}}' for n in range(1, MINUTE_SCHEDULES + 1)
    )
    return f"""\
- id: clock.tick
  kind: shell
  command: ["true"]
  overlap: allow
  schedules: [{{every: 1s, id: tick}}]

- id: clock.minute
  kind: shell
  command: ["true"]
  overlap: allow
  schedules:
{minutes}
"""


def _duration() -> float:
    default = 600.0 if rounds_setting() >= 100 else 60.0
    return float(os.environ.get("ROTA_FAULTS_SCHEDULER_SECONDS") or default)


def _scheduler(rota: Rota, name: str, *, wait: bool) -> Process:
    process = rota.spawn("scheduler", name=name)
    if wait:
        rota.wait_for_output(process, r"scheduler (\S+): \d+ schedules")
    return process


class Observer(threading.Thread):
    """Polls the runs table every 20 ms and notes when each run was first visible: the
    lateness a worker would see (an upper bound of the commit time, 20 ms resolution), which
    ``created_at`` (the pass's clock reading, taken before its transaction) cannot show."""

    def __init__(self, url: str) -> None:
        super().__init__(name="faults-observer", daemon=True)
        self.url = sa.engine.make_url(url).set(drivername="postgresql")
        self.seen: dict[int, float] = {}
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        last = 0
        try:
            with psycopg.connect(
                self.url.render_as_string(hide_password=False), autocommit=True
            ) as conn:
                while not self.halt.wait(0.02):
                    asked = time.time()
                    # Ids are drawn at insert, but transactions commit in any order: look
                    # again behind the highest id seen (a pass writes at most 100 runs).
                    rows = conn.execute(
                        "SELECT id FROM runs WHERE id > %s", [last - LOOK_BEHIND]
                    ).fetchall()
                    for (run_id,) in rows:
                        self.seen.setdefault(int(run_id), asked)
                        last = max(last, int(run_id))
        except BaseException as exc:  # reported by the test
            self.error = exc


def _gap(rng: random.Random, duration: float) -> float:
    """30-90 s between kills; squeezed for short runs so that a 60 s run still sees kills."""
    return rng.uniform(30, 90) * min(1.0, duration / 120)


def test_three_schedulers_killed_in_turn_fire_every_nominal_time_exactly_once(
    make_rota: MakeRota, postgres_database: str, rng: random.Random, history: History
) -> None:
    rota = install(make_rota, {"clock.yaml": _clock_yaml()}, database_url=postgres_database)
    duration = _duration()
    observer = Observer(postgres_database)
    observer.start()
    schedulers = [_scheduler(rota, name, wait=True) for name in SCHEDULERS]
    begin = time.time()
    assert len(rota.store.list_schedules()) == MINUTE_SCHEDULES + 1, rota.process_output()

    next_kill = begin + _gap(rng, duration)
    while time.time() < begin + duration:
        for process in schedulers:
            assert process.running(), f"{process.name} exited\n{process.output()}"
        if time.time() >= next_kill:
            index = rng.randrange(len(schedulers))
            victim = schedulers[index]
            history.fault("kill", victim.name, pid=victim.pid)
            victim.kill()
            schedulers[index] = _scheduler(rota, victim.name, wait=False)
            next_kill = time.time() + _gap(rng, duration)
        time.sleep(0.1)
    for process in schedulers:  # every restarted scheduler came up
        rota.wait_for_output(process, r"scheduler (\S+): \d+ schedules")
    end = time.time()
    for process in schedulers:
        process.terminate()
    for process in schedulers:
        assert process.wait() == 0, process.output()
    time.sleep(0.1)
    observer.halt.set()
    observer.join(5)
    assert observer.error is None, observer.error

    store = rota.store
    occurrences = store.list_occurrences(OccurrenceFilter(limit=EVERYTHING))
    runs = {i: r for i, r in all_runs(store).items() if r.schedule_id is not None}
    problems: list[str] = []

    # Exactly once: one occurrence per (schedule, nominal time), one run per occurrence.
    keys = Counter((o.schedule_id, o.nominal_time) for o in occurrences)
    problems += [f"{k[0]} {k[1]}: {n} occurrences" for k, n in keys.items() if n > 1]
    fired = Counter((r.schedule_id, r.scheduled_for) for r in runs.values())
    problems += [f"{k[0]} {k[1]}: {n} runs" for k, n in fired.items() if n > 1]
    outcomes = tally(o.outcome.value for o in occurrences)
    ran = {
        (o.schedule_id, o.nominal_time) for o in occurrences if o.outcome is OccurrenceOutcome.RAN
    }
    coalesced_in_grace = []
    for o in occurrences:
        run = runs.get(o.run_id) if o.run_id is not None else None
        if o.outcome is OccurrenceOutcome.RAN:
            if run is None or (run.schedule_id, run.scheduled_for) != (
                o.schedule_id,
                o.nominal_time,
            ):
                problems.append(f"{o.schedule_id} {o.nominal_time}: ran without its run")
            elif run.trigger is not Trigger.SCHEDULE:
                problems.append(f"run {run.id}: trigger {run.trigger.value}")
            continue
        around = sorted(
            (str(x.nominal_time.time()), x.outcome.value, x.run_id, str(x.recorded_at.time()))
            for x in occurrences
            if x.schedule_id == o.schedule_id
            and abs((x.nominal_time - o.nominal_time).total_seconds()) <= 3
        )
        # Known product bug (see test_fault_schedule_grace.py): ``missed: latest`` coalesces
        # a time still within its grace into the next one when one pass gets both. Counted
        # and reported; anything else is a failure.
        if (
            o.outcome is OccurrenceOutcome.COALESCED
            and run is not None
            and run.schedule_id == o.schedule_id
            and run.scheduled_for is not None
            and o.nominal_time < run.scheduled_for <= o.nominal_time + timedelta(seconds=GRACE)
        ):
            coalesced_in_grace.append(
                f"{o.schedule_id} {o.nominal_time} into run {run.id} ({run.scheduled_for}); "
                f"around it: {around}"
            )
            continue
        problems.append(
            f"{o.schedule_id} {o.nominal_time}: {o.outcome.value} ({o.detail}) run {o.run_id}; "
            f"around it (nominal, outcome, run, recorded_at): {around}"
        )
    problems += [
        f"run {r.id}: no occurrence that ran"
        for r in runs.values()
        if (r.schedule_id, r.scheduled_for) not in ran
    ]

    # Every nominal time accounted for, first to last, and the whole time covered.
    by_schedule = group((o.schedule_id, o.nominal_time) for o in occurrences)
    first_minute = utc(begin).replace(second=0, microsecond=0) + timedelta(minutes=1)
    expected_minutes = [
        first_minute + timedelta(minutes=n)
        for n in range(int((end - 1 - first_minute.timestamp()) // 60) + 1)
    ]
    for schedule_id in ["tick", *(f"minute-{n:03d}" for n in range(1, MINUTE_SCHEDULES + 1))]:
        times = sorted(by_schedule.get(schedule_id, []))
        step = timedelta(seconds=1 if schedule_id == "tick" else 60)
        gaps = [(a, b) for a, b in itertools.pairwise(times) if b - a != step]
        if gaps:
            problems.append(f"{schedule_id}: gaps {gaps[:5]}")
        if schedule_id == "tick":
            if not times or times[0] > utc(begin + 2) or times[-1] < utc(end - 2):
                span = (times[0], times[-1]) if times else None
                problems.append(f"tick: fired {span}, schedulers up {utc(begin)}..{utc(end)}")
        elif [t for t in times if first_minute <= t <= utc(end - 1)] != expected_minutes:
            problems.append(f"{schedule_id}: fired {times}, expected {expected_minutes}")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:50])

    # Lateness, overall and away from the kills.
    kills = [f.at for f in history.kills()]

    def near_kill(nominal: float) -> bool:
        return any(k - 0.5 <= nominal <= k + AFTER_KILL for k in kills)

    nominal = {i: r.scheduled_for.timestamp() for i, r in runs.items() if r.scheduled_for}
    lateness = {i: r.created_at.timestamp() - nominal[i] for i, r in runs.items()}
    visible = {i: observer.seen[i] - nominal[i] for i in runs if i in observer.seen}
    assert len(visible) == len(runs), "the observer missed runs"
    calm = [v for i, v in lateness.items() if not near_kill(nominal[i])]
    calm_visible = [v for i, v in visible.items() if not near_kill(nominal[i])]
    figures: dict[str, Any] = {
        "seconds": round(end - begin, 1),
        "schedulers": len(SCHEDULERS),
        "kills": len(kills),
        "kill_offsets": [round(k - begin, 1) for k in kills],
        "schedules": MINUTE_SCHEDULES + 1,
        "occurrences": len(occurrences),
        "outcomes": outcomes,
        "runs": len(runs),
        "coalesced_within_grace": len(coalesced_in_grace),
        "coalesced_within_grace_examples": coalesced_in_grace[:3],
        "duplicate_occurrences": 0,
        "duplicate_runs": 0,
        "tick_fires": len(by_schedule.get("tick", [])),
        "minutes_fired": len(expected_minutes),
        "lateness_created_at": spread(list(lateness.values())),
        "lateness_created_at_outside_kills": spread(calm),
        "lateness_visible": spread(list(visible.values())),
        "lateness_visible_tick": spread(
            [v for i, v in visible.items() if runs[i].schedule_id == "tick"]
        ),
        "lateness_visible_minute": spread(
            [v for i, v in visible.items() if runs[i].schedule_id != "tick"]
        ),
        "lateness_visible_outside_kills": spread(calm_visible),
        "lateness_visible_within_kills": spread(
            [v for i, v in visible.items() if near_kill(nominal[i])]
        ),
        "minute_bursts": [
            {
                "minute": str(minute.time()),
                "fires": len(ids),
                "created_at": spread([lateness[i] for i in ids]),
                "visible": spread([visible[i] for i in ids]),
            }
            for minute, ids in sorted(
                group(
                    (r.scheduled_for, i) for i, r in runs.items() if r.schedule_id != "tick"
                ).items()
            )
        ],
    }
    report(history, figures)
    p99 = figures["lateness_created_at_outside_kills"]["p99"]
    assert p99 is not None and p99 <= LATENESS_P99, figures["lateness_created_at_outside_kills"]
    p99 = figures["lateness_visible_outside_kills"]["p99"]
    assert p99 is not None and p99 <= VISIBLE_GUARD, figures["lateness_visible_outside_kills"]
