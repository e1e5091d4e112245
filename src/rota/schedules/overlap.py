"""What a schedule fire does while the job still has unfinished runs (pure; the store asks).

* ``allow``: start another run;
* ``skip`` (default, ``single_instance``): record ``skipped:overlap``;
* ``queue``: at most one run waits — a fire while one already waits is ``coalesced`` into it;
  otherwise the new run is ``pending`` until the running one ends;
* ``cancel_previous``: cancel the unfinished runs; the new run waits for a running one to stop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from rota.model.schedules import OverlapPolicy
from rota.model.status import RunStatus


class Verdict(StrEnum):
    RUN = "run"
    SKIP = "skip"
    COALESCE = "coalesce"


@dataclass(frozen=True)
class ActiveRun:
    id: int
    status: RunStatus


@dataclass(frozen=True)
class OverlapDecision:
    verdict: Verdict
    waits_for: int | None = None
    """Create the run ``pending`` behind this run."""
    into: int | None = None
    """``coalesce``: the waiting run that stands for this fire."""
    cancel: tuple[int, ...] = field(default=())


def decide_overlap(policy: OverlapPolicy, active: Sequence[ActiveRun]) -> OverlapDecision:
    if not active or policy is OverlapPolicy.ALLOW:
        return OverlapDecision(Verdict.RUN)
    running = [a.id for a in active if a.status is RunStatus.RUNNING]
    behind = max(running) if running else None
    if policy is OverlapPolicy.SKIP:
        return OverlapDecision(Verdict.SKIP)
    if policy is OverlapPolicy.QUEUE:
        waiting = [a.id for a in active if a.status is not RunStatus.RUNNING]
        if waiting:
            return OverlapDecision(Verdict.COALESCE, into=max(waiting))
        return OverlapDecision(Verdict.RUN, waits_for=behind)
    return OverlapDecision(
        Verdict.RUN, waits_for=behind, cancel=tuple(sorted(a.id for a in active))
    )
