"""How a data run splits itself into part runs: which source rows belong to which part, and
waiting for (or ending) the parts other workers took.

Records are spread by a stable hash of their mapped match keys, so every record of one key lands
in one part: duplicate checks stay exact and two parts never write the same row at once.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from rota.data.mapping import parse_mapping
from rota.data.records import RecordError, SourceRow
from rota.jobs.executors.base import HardStop, Reporter, RunControl, RunParts
from rota.model.errors import RunCancelled
from rota.model.runs import Run

PART = "_part"
"""The parameter a part run gets: ``[index, count]`` of the records it applies."""
PART_POLL_SECONDS = 0.25


def part_of(params: dict[str, Any]) -> tuple[int, int] | None:
    """The ``[index, count]`` a part run was started with, if it is one."""
    value = params.get(PART)
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) for v in value)
        and 0 <= value[0] < value[1]
    ):
        return value[0], value[1]
    return None


def partition(spec: dict[str, Any], part: tuple[int, int]) -> Callable[[SourceRow], bool]:
    """Which source rows belong to ``part``: by a stable hash of the mapped match keys (only
    those columns are mapped here); rows without usable keys, or jobs without keys, by their
    chunk of rows."""
    index, count = part
    chunk = int(str(spec.get("chunk_size", 5000)))

    def by_row(row: SourceRow) -> bool:
        return ((row.number - 1) // chunk) % count == index

    match = [str(k) for k in spec.get("match") or []]
    if not match:
        return by_row
    mapping: dict[str, Any] = spec["mapping"]
    keys = parse_mapping({k: mapping[k] for k in match})

    def keep(row: SourceRow) -> bool:
        if row.values is None:
            return by_row(row)
        try:
            values = keys.apply(row.values)
        except RecordError:
            return by_row(row)
        text = ", ".join(f"{k}={values.get(k)}" for k in match)
        return zlib.crc32(text.encode()) % count == index

    return keep


def wait_for_parts(
    parts: RunParts, control: RunControl, reporter: Reporter, waiting: dict[int, int]
) -> list[Run]:
    """The part runs in ``waiting`` once they have all ended; a cancel or hard stop of this
    run ends them too."""
    while True:
        runs = [p for p in parts.parts() if p.id in waiting]
        if all(p.status.terminal for p in runs):
            return runs
        reporter.progress(sum(p.progress.done for p in runs), None, "waiting for parts")
        try:
            check_stop(control)
        except (RunCancelled, HardStop):
            end_parts(parts, control, [p.id for p in runs if not p.status.terminal])
            raise
        control.changed.wait(PART_POLL_SECONDS)


def end_parts(parts: RunParts, control: RunControl, run_ids: list[int]) -> None:
    """Cancel parts that have not ended (a previous attempt's, or this one's on cancel) and
    wait until they have, so no two attempts write the same records at once."""
    for run_id in run_ids:
        parts.cancel(run_id)
    while run_ids:
        ended = {p.id for p in parts.parts() if p.status.terminal}
        run_ids = [r for r in run_ids if r not in ended]
        if run_ids:
            if control.stop_reason() is not None:
                return
            control.changed.wait(PART_POLL_SECONDS)


def check_stop(control: RunControl) -> None:
    """Raise what a cancel request or a hard stop means for the run, between chunks."""
    reason = control.stop_reason()
    if reason is not None:
        raise HardStop(reason)
    if control.cancel_requested:
        raise RunCancelled("canceled between chunks")
