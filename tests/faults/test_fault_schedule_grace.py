"""A scheduler pass that comes a little late, as under the fault scenario's load (a burst of
200 schedules due at once, a scheduler killed): what happens to nominal times still within
their ``grace``?

docs/schedules.md: "A nominal time is **missed** when the scheduler gets to it more than
`grace` after it ... What happens then is the schedule's `missed` policy", `grace` defaulting to
60 s ("A fire later than this after its nominal time counts as missed"); `coalesced` means
"another run stands for it: a later missed time (`missed: latest`)". So a one-second schedule
whose pass comes 1.5 s late has no missed time: both due times should run. Found by
``test_fault_schedulers.py`` (a ``tick`` at a minute boundary, where 201 schedules are due at
once, ended ``coalesced``); reproduced here deterministically with the clock passed in, and
fixed: the missed policy now applies to missed times only.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from rota.model.schedules import OccurrenceOutcome
from rota.services.jobs import sync_project
from rota.store import Store

TICK = """\
id: tick
kind: shell
command: ["true"]
overlap: allow
schedules: [{every: 1s, id: tick}]
"""


def test_a_pass_a_second_and_a_half_late_runs_both_on_time_fires(
    store: Store, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    (project / "jobs").mkdir(parents=True)
    (project / "jobs" / "tick.yaml").write_text(TICK, encoding="utf-8")
    synced = sync_project(store, project)
    assert synced.errors == [], synced
    first = store.next_fire_time()
    assert first is not None

    [report] = store.fire_due_schedules(first + timedelta(seconds=1.5))

    decided = [(nominal, outcome) for nominal, outcome, _ in report.occurrences]
    assert decided == [
        (first, OccurrenceOutcome.RAN),
        (first + timedelta(seconds=1), OccurrenceOutcome.RAN),
    ]
