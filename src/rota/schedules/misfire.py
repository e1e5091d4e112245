"""Which due nominal times become runs: the missed-run policy, decided with ``now`` passed in.

A nominal time later than ``grace`` is *missed* (the scheduler was down or stuck):

* ``skip`` records each missed time ``skipped:missed``; on-time ones run;
* ``latest`` runs only the latest missed time, or the first on-time one after missed ones;
  the earlier missed ones are ``coalesced`` into it (on-time ones all run);
* ``all`` replays missed times inside ``catch_up_window``, at most ``max_catch_up`` (the latest
  ones) in order; older or surplus ones are ``skipped:missed``.

Blacked-out times are ``skipped:blackout`` whatever the policy.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from rota.model.schedules import MissedPolicy, ScheduleSpec


class Action(StrEnum):
    RUN = "run"
    MISSED = "missed"
    COALESCED = "coalesced"
    BLACKOUT = "blackout"


@dataclass(frozen=True)
class Fire:
    nominal: datetime
    action: Action
    late: bool = False
    detail: str | None = None


def collect_due(
    fire_times: Iterator[datetime],
    now: datetime,
    spec: ScheduleSpec,
    blackout: Callable[[datetime], str | None],
    chunk: int,
) -> tuple[list[datetime], bool]:
    """The due times (``<= now``) one pass decides, and whether they are all of them.

    A long backlog is cut after ``chunk`` times, but only just before a time that is not
    blacked out, so "a later due time exists" always means one that could run. ``all`` is
    never cut inside its catch-up window (the window bounds it), only before.
    """
    window_start = now - timedelta(seconds=spec.catch_up_window)
    due: list[datetime] = []
    for fire in fire_times:
        if fire > now:
            return due, True
        if len(due) >= chunk:
            in_window = spec.missed is MissedPolicy.ALL and fire >= window_start
            if not in_window and blackout(fire) is None:
                return due, False
        due.append(fire)
    return due, True


def plan_fires(
    due: Iterable[datetime],
    now: datetime,
    spec: ScheduleSpec,
    blackout: Callable[[datetime], str | None] = lambda _: None,
    *,
    final: bool = True,
) -> list[Fire]:
    """Decide every due nominal time (ascending). ``final=False`` says a later due time that
    is not blacked out exists beyond ``due`` (see :func:`collect_due`): ``latest`` then knows
    every remaining candidate is superseded. (``all`` is only cut before its window, where
    nothing is a candidate.) The caller resumes after the last nominal time returned."""
    grace = timedelta(seconds=spec.grace)
    window_start = now - timedelta(seconds=spec.catch_up_window)
    keep = {MissedPolicy.SKIP: 0, MissedPolicy.LATEST: 1, MissedPolicy.ALL: spec.max_catch_up}
    decided: list[Fire] = []
    candidates: deque[datetime] = deque()
    evicted = Action.COALESCED if spec.missed is MissedPolicy.LATEST else Action.MISSED
    for nominal in due:
        why = blackout(nominal)
        if why is not None:
            decided.append(Fire(nominal, Action.BLACKOUT, detail=why))
            continue
        late = now - nominal > grace
        if spec.missed is MissedPolicy.LATEST and not late:
            # On time: it runs, and stands for the missed ones before it.
            decided.extend(Fire(n, Action.COALESCED, late=True) for n in candidates)
            candidates.clear()
            decided.append(Fire(nominal, Action.RUN))
            continue
        if spec.missed is MissedPolicy.SKIP or (spec.missed is MissedPolicy.ALL and not late):
            if late:
                decided.append(Fire(nominal, Action.MISSED, late=True))
            else:
                decided.extend(Fire(n, Action.RUN, late=True) for n in candidates)
                candidates.clear()
                decided.append(Fire(nominal, Action.RUN))
            continue
        if spec.missed is MissedPolicy.ALL and nominal < window_start:
            decided.append(Fire(nominal, Action.MISSED, late=True, detail="older than the window"))
            continue
        if len(candidates) == keep[spec.missed]:
            decided.append(Fire(candidates.popleft(), evicted, late=True))
        candidates.append(nominal)
    if final:
        for nominal in candidates:
            decided.append(Fire(nominal, Action.RUN, late=now - nominal > grace))
    elif spec.missed is MissedPolicy.LATEST:
        # A later due time exists, so every remaining candidate is superseded.
        decided.extend(Fire(n, Action.COALESCED, late=True) for n in candidates)
    return decided
