"""The services layer adds, changes and removes schedules outside job definitions (the API's
path), checking them like a definition's schedule and changing nothing on bad input."""

from __future__ import annotations

import pytest
from tests.contract.conftest import Ops

from rota.model.errors import ConflictError, InvalidInputError, NotFoundError
from rota.model.params import ParamSchema, ParamSpec, ParamType
from rota.model.schedules import ScheduleKind, ScheduleSpec
from rota.services import schedules as service
from rota.store import Store


def spec(expression: str = "0 6 * * *", **fields: object) -> ScheduleSpec:
    return ScheduleSpec(
        kind=ScheduleKind.CRON,
        expression=expression,
        id="ops.morning",
        **fields,  # type: ignore[arg-type]
    )


def test_it_adds_changes_and_removes_a_schedule(store: Store, ops: Ops) -> None:
    ops.sync()
    added = service.put_schedule(store, ops.job, spec(tz="Europe/Berlin"), now=ops.now)
    assert (added.origin, added.job, added.next_fire_at is not None) == ("api", ops.job, True)
    changed = service.put_schedule(store, ops.job, spec("0 7 * * *"), now=ops.now)
    assert changed.spec.expression == "0 7 * * *"
    assert [s.id for s in store.list_schedules(job=ops.job)] == ["ops.morning"]
    service.delete_schedule(store, "ops.morning")
    assert store.list_schedules(job=ops.job) == []


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (spec("0 0 30 2 *"), "cron"),
        (spec(tz="Mars/Base"), "tz"),
        (spec(params={"limit": "many"}), "params.limit"),
        (spec(exclude=("no-such-calendar",)), "exclude"),
        (ScheduleSpec(kind=ScheduleKind.INTERVAL, expression="1h"), "id"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(
    store: Store, ops: Ops, bad: ScheduleSpec, field: str
) -> None:
    ops.sync(params=ParamSchema((ParamSpec(name="limit", type=ParamType.INT, default=10),)))
    with pytest.raises(InvalidInputError) as caught:
        service.put_schedule(store, ops.job, bad, now=ops.now)
    assert caught.value.field == field
    assert store.list_schedules(job=ops.job) == []


def test_unknown_jobs_and_definition_schedules_are_refused(store: Store, ops: Ops) -> None:
    with pytest.raises(NotFoundError):
        service.put_schedule(store, "no.such.job", spec(), now=ops.now)
    ops.sync(schedules=(spec(),))
    with pytest.raises(ConflictError, match="job definition"):
        service.put_schedule(store, ops.job, spec("0 9 * * *"), now=ops.now)
    with pytest.raises(ConflictError, match="job definition"):
        service.delete_schedule(store, "ops.morning")
