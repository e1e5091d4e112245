"""Job definitions and retry policies: validation, canonical JSON, fingerprints, backoff."""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rota.model.errors import InvalidInputError
from rota.model.jobs import DEFAULT_TENANT, JobDefinition, JobKind, RetryPolicy, StoredJob
from rota.model.notify import NotifyEvent, NotifyRule
from rota.model.params import ParamSchema, ParamSpec, ParamType
from rota.model.resources import ResourceClaim
from rota.model.schedules import OverlapPolicy, ScheduleKind, ScheduleSpec
from rota.model.status import RunStatus
from rota.model.triggers import EventTrigger

pure = settings(database=None, deadline=None)

EXPIRES = datetime(2030, 6, 1, 12, tzinfo=timezone(timedelta(hours=2)))


def invalid(call: Any, field: str, *reason_parts: str) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as info:
        call()
    assert info.value.field == field
    for part in reason_parts:
        assert part in info.value.reason, (part, info.value.reason)
    return info.value


def full_definition() -> JobDefinition:
    """A definition that sets every field to a non-default value."""
    return JobDefinition(
        id="etl.daily-load_v2",
        kind=JobKind.PYTHON,
        name="Daily load",
        description="Loads the day's orders",
        owner="data-team",
        tags=("etl", "nightly"),
        required_role="operator",
        params=ParamSchema(
            (
                ParamSpec(name="day", type=ParamType.DATE, default="today", description="d"),
                ParamSpec(name="since", type=ParamType.DATETIME, default="now"),
                ParamSpec(name="limit", type=ParamType.INT, default=100, min=1, max=1000),
                ParamSpec(name="ratio", type=ParamType.FLOAT, min=0.0, max=1.0),
                ParamSpec(name="dry_run", type=ParamType.BOOL, default=False),
                ParamSpec(name="mode", type=ParamType.CHOICE, choices=("full", "delta")),
                ParamSpec(name="ids", type=ParamType.LIST, items=ParamType.INT),
                ParamSpec(name="code", pattern=r"[A-Z]{3}", default="ABC"),
                ParamSpec(name="note", default=None),
            )
        ),
        expected_runtime=120.0,
        timeout=3600.0,
        retry=RetryPolicy(
            max_attempts=5,
            backoff_seconds=2.5,
            backoff_max_seconds=60.0,
            jitter=False,
            max_worker_losses=1,
        ),
        idempotent=True,
        destructive=True,
        priority=-10,
        active=False,
        expires_at=EXPIRES,
        group="loads",
        tenant="acme",
        schedules=(
            ScheduleSpec(kind=ScheduleKind.CRON, expression="0 6 * * 1-5", tz="Europe/Berlin"),
            ScheduleSpec(kind=ScheduleKind.INTERVAL, expression="30s", id="loads-often"),
        ),
        overlap=OverlapPolicy.QUEUE,
        resources=(ResourceClaim("erp-customers"), ResourceClaim("erp-orders", shared=True)),
        concurrency=2,
        excludes=("etl.backup",),
        after=("etl.extract",),
        triggers=(
            EventTrigger(
                id="after-extract",
                source="etl.extract",
                target="etl.daily-load_v2",
                statuses=(RunStatus.COMPLETED, RunStatus.PARTIAL),
                params={"day": "{{ run.params.day }}"},
            ),
        ),
        notify=(
            NotifyRule(
                events=(NotifyEvent.FAILED, NotifyEvent.OVERDUE),
                email=("ops@example.org",),
                webhook="https://hooks.example.org/rota",
                secret="rota-hooks",
            ),
        ),
        spec={"entrypoint": "jobs.etl:load", "env": {"A": "1"}, "argv": ["--x", 1]},
        source="jobs/etl.py",
        code_hash="abc123",
    )


# -- JobDefinition validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    "job_id", ["a", "0", "job-1", "etl.daily_load", "a" * 128, "9.9-9_9"], ids=repr
)
def test_it_accepts_lowercase_ids_with_digits_dots_underscores_and_dashes(job_id: str) -> None:
    assert JobDefinition(id=job_id, kind=JobKind.SHELL).id == job_id


@pytest.mark.parametrize(
    "job_id",
    ["", "Job", "-job", ".job", "_job", "has space", "a/b", "a" * 129, "café", "job!"],
    ids=repr,
)
def test_it_rejects_an_invalid_id_naming_the_id_field(job_id: str) -> None:
    error = invalid(
        lambda: JobDefinition(id=job_id, kind=JobKind.SHELL),
        "id",
        "must be lowercase letters, digits, '.', '_' or '-'",
    )
    assert repr(job_id) in error.reason


def test_it_rejects_an_id_with_a_trailing_newline() -> None:
    invalid(lambda: JobDefinition(id="job\n", kind=JobKind.SHELL), "id")


def test_it_defaults_the_name_to_the_id() -> None:
    assert JobDefinition(id="nightly", kind=JobKind.SHELL).name == "nightly"
    assert JobDefinition(id="nightly", kind=JobKind.SHELL, name="").name == "nightly"


def test_it_keeps_an_explicit_name() -> None:
    assert JobDefinition(id="nightly", kind=JobKind.SHELL, name="Nightly run").name == "Nightly run"


def test_it_has_sensible_defaults() -> None:
    job = JobDefinition(id="j", kind=JobKind.HTTP)
    assert job.tenant == DEFAULT_TENANT == "default"
    assert job.active
    assert not job.idempotent
    assert not job.destructive
    assert job.priority == 0
    assert job.params == ParamSchema()
    assert job.retry == RetryPolicy()
    assert job.spec == {}


@pytest.mark.parametrize(
    ("kwargs", "field", "reason"),
    [
        ({"timeout": 0}, "timeout", "must be a positive number of seconds"),
        ({"timeout": -1.5}, "timeout", "must be a positive number of seconds"),
        ({"expected_runtime": 0}, "expected_runtime", "must be a positive number of seconds"),
        ({"expected_runtime": -3}, "expected_runtime", "must be a positive number of seconds"),
        ({"expires_at": datetime(2030, 1, 1)}, "expires_at", "needs a UTC offset or Z"),
        ({"priority": 1001}, "priority", "must be between -1000 and 1000"),
        ({"priority": -1001}, "priority", "must be between -1000 and 1000"),
    ],
    ids=["timeout-0", "timeout-neg", "runtime-0", "runtime-neg", "naive-expiry", "prio+", "prio-"],
)
def test_it_rejects_invalid_fields_naming_the_field(
    kwargs: dict[str, Any], field: str, reason: str
) -> None:
    invalid(lambda: JobDefinition(id="j", kind=JobKind.SHELL, **kwargs), field, reason)


@pytest.mark.parametrize("priority", [-1000, 0, 1000])
def test_it_accepts_priorities_on_the_bounds(priority: int) -> None:
    assert JobDefinition(id="j", kind=JobKind.SHELL, priority=priority).priority == priority


def test_it_expires_at_and_after_the_expiry_time_only() -> None:
    job = JobDefinition(id="j", kind=JobKind.SHELL, expires_at=EXPIRES)
    assert not job.expired(EXPIRES - timedelta(microseconds=1))
    assert job.expired(EXPIRES)
    assert job.expired(EXPIRES + timedelta(days=1))


def test_it_never_expires_without_an_expiry_time() -> None:
    assert not JobDefinition(id="j", kind=JobKind.SHELL).expired(datetime.max.replace(tzinfo=UTC))


def test_it_is_frozen() -> None:
    job = JobDefinition(id="j", kind=JobKind.SHELL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.id = "k"  # type: ignore[misc]


# -- JSON round trip ---------------------------------------------------------------------------


def test_it_round_trips_a_full_definition_through_json() -> None:
    job = full_definition()
    again = JobDefinition.from_json(job.to_json())
    assert again == job
    assert again.params == job.params
    assert again.retry == job.retry
    assert again.to_json() == job.to_json()


def test_it_round_trips_through_serialized_json_text() -> None:
    job = full_definition()
    text = json.dumps(job.to_json())
    assert JobDefinition.from_json(json.loads(text)) == job


def test_it_round_trips_a_minimal_definition_through_json() -> None:
    job = JobDefinition(id="j", kind=JobKind.SHELL)
    assert JobDefinition.from_json(job.to_json()) == job


def test_it_builds_a_definition_from_minimal_json_with_defaults() -> None:
    job = JobDefinition.from_json({"id": "j", "kind": "http"})
    assert job == JobDefinition(id="j", kind=JobKind.HTTP)
    assert job.name == "j"


def test_it_writes_the_canonical_json_form() -> None:
    data = full_definition().to_json()
    assert data["kind"] == "python"
    assert data["tags"] == ["etl", "nightly"]
    assert data["expires_at"] == "2030-06-01T12:00:00+02:00"
    assert data["retry"] == {
        "max_attempts": 5,
        "backoff_seconds": 2.5,
        "backoff_max_seconds": 60.0,
        "jitter": False,
        "max_worker_losses": 1,
    }
    assert [p["name"] for p in data["params"]] == [
        "day",
        "since",
        "limit",
        "ratio",
        "dry_run",
        "mode",
        "ids",
        "code",
        "note",
    ]
    assert set(data) == {f.name for f in dataclasses.fields(JobDefinition)}
    assert [s["id"] for s in data["schedules"]] == ["etl.daily-load_v2:1", "loads-often"]
    assert data["overlap"] == "queue"


def test_a_definition_without_schedules_keeps_its_json_and_fingerprint() -> None:
    """Jobs written before schedules existed keep their version when Rota is upgraded."""
    data = JobDefinition(id="plain", kind=JobKind.SHELL).to_json()
    assert "schedules" not in data
    assert "overlap" not in data


def test_two_schedules_of_one_job_need_distinct_ids() -> None:
    same = ScheduleSpec(kind=ScheduleKind.INTERVAL, expression="1h", id="twice")
    with pytest.raises(InvalidInputError) as caught:
        JobDefinition(id="j", kind=JobKind.SHELL, schedules=(same, same))
    assert caught.value.field == "schedules"


def test_it_validates_params_when_reading_json() -> None:
    data = JobDefinition(id="j", kind=JobKind.SHELL).to_json()
    data["params"] = [{"name": "n", "type": "int", "default": "many"}]
    invalid(lambda: JobDefinition.from_json(data), "params.n", "expected an integer")


def test_it_validates_retry_when_reading_json() -> None:
    data = JobDefinition(id="j", kind=JobKind.SHELL).to_json()
    data["retry"]["max_attempts"] = 0
    invalid(lambda: JobDefinition.from_json(data), "retry.max_attempts")


def test_it_round_trips_a_list_param_with_a_default() -> None:
    job = JobDefinition(
        id="j",
        kind=JobKind.SHELL,
        params=ParamSchema((ParamSpec(name="ids", type=ParamType.LIST, default="1,2"),)),
    )
    assert JobDefinition.from_json(job.to_json()) == job


# -- fingerprint -------------------------------------------------------------------------------

CHANGES: dict[str, Any] = {
    "id": "etl.other",
    "kind": JobKind.SHELL,
    "name": "Another name",
    "description": "Something else",
    "owner": "ops",
    "tags": ("etl",),
    "required_role": None,
    "params": ParamSchema((ParamSpec(name="day", type=ParamType.DATE, default="today"),)),
    "expected_runtime": 121.0,
    "timeout": 3601.0,
    "retry": RetryPolicy(max_attempts=5, backoff_seconds=2.5, backoff_max_seconds=60.0),
    "idempotent": False,
    "destructive": False,
    "priority": -9,
    "active": True,
    "expires_at": EXPIRES + timedelta(seconds=1),
    "group": None,
    "tenant": "default",
    "schedules": (
        ScheduleSpec(kind=ScheduleKind.CRON, expression="0 7 * * 1-5", tz="Europe/Berlin"),
    ),
    "overlap": OverlapPolicy.ALLOW,
    "resources": (ResourceClaim("erp-customers", shared=True),),
    "concurrency": 3,
    "excludes": ("etl.restore",),
    "after": (),
    "triggers": (),
    "notify": (NotifyRule(events=(NotifyEvent.FAILED,), email=("ops@example.org",)),),
    "spec": {"entrypoint": "jobs.etl:load", "env": {"A": "2"}, "argv": ["--x", 1]},
    "source": "jobs/other.py",
    "code_hash": "abc124",
}

RETRY_CHANGES: dict[str, Any] = {
    "max_attempts": 6,
    "backoff_seconds": 3.0,
    "backoff_max_seconds": 61.0,
    "jitter": True,
    "max_worker_losses": 2,
}


def test_it_has_a_change_case_for_every_definition_field() -> None:
    assert set(CHANGES) == {f.name for f in dataclasses.fields(JobDefinition)}
    assert set(RETRY_CHANGES) == {f.name for f in dataclasses.fields(RetryPolicy)}


def test_it_gives_a_short_hex_fingerprint() -> None:
    fingerprint = full_definition().fingerprint
    assert len(fingerprint) == 16
    assert int(fingerprint, 16) >= 0


def test_it_keeps_the_fingerprint_stable_for_equal_definitions() -> None:
    job = full_definition()
    assert job.fingerprint == job.fingerprint
    assert full_definition().fingerprint == job.fingerprint
    assert JobDefinition.from_json(job.to_json()).fingerprint == job.fingerprint
    assert dataclasses.replace(job).fingerprint == job.fingerprint


def test_it_ignores_the_order_of_spec_keys_in_the_fingerprint() -> None:
    a = JobDefinition(id="j", kind=JobKind.SHELL, spec={"a": 1, "b": 2})
    b = JobDefinition(id="j", kind=JobKind.SHELL, spec={"b": 2, "a": 1})
    assert a.fingerprint == b.fingerprint


@pytest.mark.parametrize(("field", "value"), list(CHANGES.items()), ids=list(CHANGES))
def test_it_changes_the_fingerprint_when_any_field_changes(field: str, value: Any) -> None:
    job = full_definition()
    changed = dataclasses.replace(job, **{field: value})
    assert changed != job
    assert changed.fingerprint != job.fingerprint


@pytest.mark.parametrize(("field", "value"), list(RETRY_CHANGES.items()), ids=list(RETRY_CHANGES))
def test_it_changes_the_fingerprint_when_any_retry_field_changes(field: str, value: Any) -> None:
    job = full_definition()
    changed = dataclasses.replace(job, retry=dataclasses.replace(job.retry, **{field: value}))
    assert changed.fingerprint != job.fingerprint


@pytest.mark.parametrize(
    "change",
    [
        {"default": 101},
        {"min": 2},
        {"max": 999},
        {"description": "how many"},
        {"pattern": r"\d+"},
        {"type": ParamType.FLOAT},
    ],
    ids=lambda c: next(iter(c)),
)
def test_it_changes_the_fingerprint_when_a_param_detail_changes(change: dict[str, Any]) -> None:
    job = full_definition()
    specs = tuple(
        dataclasses.replace(s, **change) if s.name == "limit" else s for s in job.params.specs
    )
    changed = dataclasses.replace(job, params=ParamSchema(specs))
    assert changed.fingerprint != job.fingerprint


def test_it_changes_the_fingerprint_when_params_are_reordered() -> None:
    job = full_definition()
    changed = dataclasses.replace(job, params=ParamSchema(tuple(reversed(job.params.specs))))
    assert changed.fingerprint != job.fingerprint


def test_it_exposes_the_definition_id_on_a_stored_job() -> None:
    stored = StoredJob(
        definition=full_definition(), version=3, synced_at=datetime(2024, 1, 1, tzinfo=UTC)
    )
    assert stored.id == "etl.daily-load_v2"
    assert not stored.removed


# -- RetryPolicy -------------------------------------------------------------------------------


def test_it_retries_once_with_default_policy_values() -> None:
    policy = RetryPolicy()
    assert policy.max_attempts == 1
    assert policy.backoff_seconds == 10.0
    assert policy.backoff_max_seconds == 600.0
    assert policy.jitter
    assert policy.max_worker_losses == 3


def test_it_doubles_the_delay_after_each_failed_attempt_until_the_cap() -> None:
    policy = RetryPolicy(backoff_seconds=10, backoff_max_seconds=600, jitter=False)
    delays = [policy.delay(n) for n in range(1, 10)]
    assert delays == [10, 20, 40, 80, 160, 320, 600, 600, 600]


def test_it_caps_the_delay_at_the_maximum_for_late_attempts() -> None:
    policy = RetryPolicy(backoff_seconds=1, backoff_max_seconds=300, jitter=False)
    assert policy.delay(9) == 256
    assert policy.delay(10) == 300
    assert policy.delay(100) == 300


def test_it_waits_no_time_with_zero_backoff() -> None:
    policy = RetryPolicy(backoff_seconds=0, jitter=False)
    assert policy.delay(1) == 0
    assert policy.delay(5) == 0


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("failed_attempt", [1, 2, 3, 5, 8, 20])
def test_it_keeps_a_jittered_delay_within_half_and_all_of_the_ceiling(
    seed: int, failed_attempt: int
) -> None:
    policy = RetryPolicy(backoff_seconds=10, backoff_max_seconds=600, jitter=True)
    ceiling = min(600, 10 * 2 ** (failed_attempt - 1))
    delay = policy.delay(failed_attempt, random.Random(seed))
    assert ceiling / 2 <= delay <= ceiling


def test_it_draws_the_same_jittered_delay_from_the_same_seed() -> None:
    policy = RetryPolicy()
    assert policy.delay(3, random.Random(42)) == policy.delay(3, random.Random(42))


def test_it_spreads_jittered_delays_so_failing_runs_do_not_retry_in_lockstep() -> None:
    policy = RetryPolicy(backoff_seconds=10, backoff_max_seconds=600)
    rng = random.Random(7)
    delays = [policy.delay(4, rng) for _ in range(200)]
    assert len(set(delays)) == 200
    assert min(delays) < 45
    assert max(delays) > 75


def test_it_uses_the_rng_only_when_jitter_is_on() -> None:
    rng = random.Random(1)
    state = rng.getstate()
    assert RetryPolicy(jitter=False).delay(2, rng) == 20
    assert rng.getstate() == state


@pure
@given(
    failed_attempt=st.integers(min_value=1, max_value=1000),
    base=st.floats(min_value=0, max_value=3600),
    cap=st.floats(min_value=0, max_value=86400),
    seed=st.integers(),
)
def test_it_keeps_any_delay_within_the_jitter_range_of_the_capped_ceiling(
    failed_attempt: int, base: float, cap: float, seed: int
) -> None:
    policy = RetryPolicy(backoff_seconds=base, backoff_max_seconds=cap)
    ceiling = min(cap, base * 2 ** min(failed_attempt - 1, 64))
    plain = dataclasses.replace(policy, jitter=False).delay(failed_attempt)
    assert plain == ceiling <= cap
    delay = policy.delay(failed_attempt, random.Random(seed))
    assert ceiling / 2 <= delay <= ceiling


def test_it_caps_the_delay_even_after_very_many_failed_attempts() -> None:
    assert RetryPolicy(jitter=False).delay(2000) == 600


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_attempts": 0}, "retry.max_attempts"),
        ({"max_attempts": -1}, "retry.max_attempts"),
        ({"backoff_seconds": -0.1}, "retry.backoff_seconds"),
        ({"max_worker_losses": -1}, "retry.max_worker_losses"),
    ],
    ids=["attempts-0", "attempts-neg", "backoff-neg", "losses-neg"],
)
def test_it_rejects_an_invalid_retry_policy_naming_the_field(
    kwargs: dict[str, Any], field: str
) -> None:
    invalid(lambda: RetryPolicy(**kwargs), field)


def test_it_names_backoff_max_seconds_when_it_is_negative() -> None:
    invalid(lambda: RetryPolicy(backoff_max_seconds=-1), "retry.backoff_max_seconds", "negative")


def test_it_accepts_zero_worker_losses_and_zero_backoff() -> None:
    policy = RetryPolicy(max_worker_losses=0, backoff_seconds=0, backoff_max_seconds=0)
    assert policy.max_worker_losses == 0


def test_it_round_trips_a_retry_policy_through_json() -> None:
    policy = RetryPolicy(max_attempts=4, backoff_seconds=1.5, backoff_max_seconds=30, jitter=False)
    assert RetryPolicy(**policy.to_json()) == policy
