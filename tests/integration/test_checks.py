"""Pre-flight checks (``rota.services.checks``): first what one definition answers without a
database or network (definition, parameters, secrets, file sources and targets, schedules,
destructive jobs), then against real things: SQL sources and targets on SQLite and PostgreSQL,
HTTP sources and targets on a local server, and ``check_jobs`` on a synced store (both
backends)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.http_server import Reply, Route, Server, loopback_allowed, serve

from rota.data import probes
from rota.data.connections import open_engine
from rota.data.probes import Finding, combine
from rota.jobs.project import load_project
from rota.jobs.yamljobs import parse_definitions
from rota.model.errors import InvalidInputError, NotFoundError
from rota.model.jobs import JobDefinition, JobKind
from rota.model.params import ParamSchema, declare_param
from rota.secrets.scope import CURRENT
from rota.services import checks as check_service
from rota.services.checks import CHECKS, Check, check_definition, check_jobs, has_errors
from rota.services.jobs import sync_project
from rota.settings import Settings, load_settings
from rota.store import Store

CSV_JOB = """
    id: members.import
    kind: data
    source: {type: csv, path: members.csv}
    target: {connection: crm, table: members}
    action: upsert
    match: [member_no]
    mapping:
      member_no: {field: "Member No", type: int}
      email: {field: "E-mail"}
"""
EXPORT_JOB = """
    id: members.export
    kind: data
    source: {type: csv, path: members.csv}
    target: {type: csv, path: exports/members.csv}
    action: transfer
    mapping:
      member_no: {field: "Member No"}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "jobs").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "data" / "members.csv").write_text("Member No,E-mail\n1,a@example.org\n")
    return root


@pytest.fixture
def settings(project: Path) -> Settings:
    return load_settings(project, connections={"crm": "sqlite:///.rota/crm.db"})


def parse(text: str) -> JobDefinition:
    (definition,) = parse_definitions(textwrap.dedent(text), "jobs/job.yaml")
    return definition


def checks_of(
    definition: JobDefinition, settings: Settings, now: datetime, **options: object
) -> dict[str, Check]:
    found = check_definition(definition, settings, now=now, **options)  # type: ignore[arg-type]
    assert [c.name for c in found] == [n for n in CHECKS if n in {c.name for c in found}]
    assert all(c.job == definition.id for c in found)
    return {c.name: c for c in found}


@pytest.fixture(autouse=True)
def short_probes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Short probes, allowed to reach the local test servers (the guard refuses loopback)."""
    monkeypatch.setattr(probes, "PROBE_TIMEOUT", 5.0)
    with loopback_allowed():
        yield


def settings_for(project: Path, url: str) -> Settings:
    return load_settings(project, connections={"crm": url})


def job(**fields: Any) -> JobDefinition:
    """A definition from its fields (JSON is YAML too)."""
    return parse(json.dumps(fields))


def query_job(table: str, query: str | None = None, **fields: str) -> JobDefinition:
    """An export whose source is a query on ``table``; ``fields``: column -> query column."""
    return job(
        id="members.export",
        kind="data",
        source={
            "type": "sql",
            "connection": "crm",
            "query": query or f"SELECT member_no, email FROM {table} WHERE status = :status;",
            "params": {"status": "active"},
        },
        target={"type": "csv", "path": "out/members.csv"},
        action="transfer",
        mapping={
            c: {"field": f}
            for c, f in (fields or {"member_no": "member_no", "email": "email"}).items()
        },
    )


def import_job(table: str, **fields: str) -> JobDefinition:
    """A CSV import into ``table``; ``fields``: column -> CSV field (default: both columns)."""
    return job(
        id="members.import",
        kind="data",
        source={"type": "csv", "path": "members.csv"},
        target={"connection": "crm", "table": table},
        action="upsert",
        match=["member_no"],
        mapping={
            c: {"field": f}
            for c, f in (fields or {"member_no": "Member No", "email": "E-mail"}).items()
        },
    )


# -- without a database or network --------------------------------------------------------------


def test_a_check_prints_as_json() -> None:
    check = Check("members.import", "source", "error", "source missing: members.csv")
    assert check.to_json() == {
        "job": "members.import",
        "check": "source",
        "status": "error",
        "reason": "source missing: members.csv",
    }
    assert has_errors([check])
    assert not has_errors([replace(check, status="warning")])


def test_findings_combine_to_the_worst_with_every_reason_that_is_not_ok() -> None:
    assert combine([]) == Finding("ok", "")
    assert combine([Finding("ok", "a"), Finding("ok", "b")]) == Finding("ok", "a; b")
    mixed = [Finding("ok", "a"), Finding("warning", "w"), Finding("error", "e")]
    assert combine(mixed) == Finding("error", "e; w")


# -- which checks apply -------------------------------------------------------------------------


def test_checks_that_do_not_apply_to_a_kind_are_left_out(settings: Settings, now: datetime) -> None:
    python = JobDefinition(id="t.py", kind=JobKind.PYTHON, source="jobs/t.py")
    assert set(checks_of(python, settings, now)) == {"definition", "params"}
    http = parse("{id: t.http, kind: http, url: 'https://example.org/'}")
    assert set(checks_of(http, settings, now)) == {"definition", "params", "secrets"}
    data = parse(EXPORT_JOB)
    assert set(checks_of(data, settings, now)) == {
        "definition",
        "params",
        "secrets",
        "source",
        "target",
    }


# -- definition ---------------------------------------------------------------------------------


def test_a_valid_definition_is_ok(settings: Settings, now: datetime) -> None:
    check = checks_of(parse(EXPORT_JOB), settings, now)["definition"]
    assert (check.status, check.reason) == ("ok", "valid (jobs/job.yaml)")


def test_a_data_spec_that_no_longer_validates_is_an_error_and_is_not_probed(
    settings: Settings, now: datetime
) -> None:
    definition = parse(CSV_JOB)
    broken = replace(definition, spec={**definition.spec, "match": ["nope"]})
    checks = checks_of(broken, settings, now)
    assert checks["definition"].status == "error"
    assert checks["definition"].reason == "match: 'nope' is not a column of the mapping"
    assert "source" not in checks and "target" not in checks


def test_a_shell_job_needs_its_working_folder_and_program(
    settings: Settings, now: datetime
) -> None:
    job = "{id: t.sh, kind: shell, command: [%s], cwd: %s}"
    ok = checks_of(parse(job % ("sh, -c, 'true'", "jobs")), settings, now)["definition"]
    assert ok.status == "ok"
    gone = checks_of(parse(job % ("sh", "nowhere")), settings, now)["definition"]
    assert (gone.status, gone.reason) == ("error", "cwd: working folder 'nowhere' does not exist")
    missing = checks_of(parse(job % ("no-such-program-xyz", "jobs")), settings, now)
    assert missing["definition"].status == "warning"
    assert "'no-such-program-xyz' is not on the PATH here" in missing["definition"].reason
    script = checks_of(parse(job % ("./run.sh", "jobs")), settings, now)["definition"]
    assert (script.status, script.reason) == ("error", "command[0]: './run.sh' does not exist")


def test_inactive_and_expired_jobs_are_warnings(settings: Settings, now: datetime) -> None:
    definition = replace(
        parse(EXPORT_JOB), active=False, expires_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    check = checks_of(definition, settings, now)["definition"]
    assert check.status == "warning"
    assert "inactive (active: false)" in check.reason
    assert "expired at 2026-01-01T00:00:00Z" in check.reason


def test_the_stored_definition_is_compared_with_the_project(
    project: Path, settings: Settings, now: datetime
) -> None:
    (project / "jobs" / "export.yaml").write_text(textwrap.dedent(EXPORT_JOB))
    (project / "jobs" / "jobs.py").write_text(
        "from rota import job\n\n@job(id='t.py')\ndef run(ctx):\n    return 1\n"
    )
    loaded = load_project(project)
    stored_yaml = loaded.definitions["members.export"]
    stored_py = loaded.definitions["t.py"]

    def definition_check(definition: JobDefinition) -> Check:
        return checks_of(definition, settings, now, project=load_project(project))["definition"]

    assert definition_check(stored_yaml).reason == "matches jobs/export.yaml"
    assert definition_check(stored_py).reason == "imports from jobs/jobs.py"

    (project / "jobs" / "export.yaml").write_text(
        textwrap.dedent(EXPORT_JOB).replace("id: members.export", "id: members.export\nowner: x")
    )
    changed = definition_check(stored_yaml)
    assert (changed.status, changed.reason) == (
        "warning",
        "jobs/export.yaml changed since the last sync (run `rota jobs sync`)",
    )
    (project / "jobs" / "jobs.py").write_text("import no_such_module_xyz\n")
    broken = definition_check(stored_py)
    assert broken.status == "error"
    assert broken.reason.startswith("jobs/jobs.py: ")
    assert "ModuleNotFoundError" in broken.reason
    assert broken.reason.endswith("(a worker cannot run it)")
    (project / "jobs" / "jobs.py").unlink()
    gone = definition_check(stored_py)
    assert (gone.status, gone.reason) == (
        "error",
        "no longer in the project (jobs/jobs.py): a worker cannot run it",
    )
    (project / "jobs" / "export.yaml").unlink()
    assert definition_check(stored_yaml) == Check(
        "members.export",
        "definition",
        "warning",
        "no longer in the project (jobs/export.yaml): the next sync removes it",
    )


# -- params -------------------------------------------------------------------------------------


def test_parameters_without_defaults_are_listed(settings: Settings, now: datetime) -> None:
    none = JobDefinition(id="t.none", kind=JobKind.PYTHON)
    assert checks_of(none, settings, now)["params"].reason == "takes no parameters"
    params = ParamSchema(
        (
            declare_param("day", {"type": "date"}),
            declare_param("file", {}),
            declare_param("limit", {"type": "int", "default": 5}),
        )
    )
    manual = JobDefinition(id="t.manual", kind=JobKind.PYTHON, params=params)
    check = checks_of(manual, settings, now)["params"]
    assert (check.status, check.reason) == (
        "warning",
        "needs day, file when started by hand; a schedule cannot start it",
    )
    defaults = replace(manual, id="t.defaults", params=ParamSchema(params.specs[2:]))
    assert checks_of(defaults, settings, now)["params"] == Check(
        "t.defaults", "params", "ok", "every parameter has a default"
    )


def test_a_schedule_that_cannot_give_a_required_parameter_is_an_error(
    settings: Settings, now: datetime
) -> None:
    job = """
        id: t.scheduled
        kind: shell
        command: [echo, "{day}"]
        params: {day: date, limit: {type: int, default: 1}}
        schedules:
          - {cron: "0 3 * * *", id: t.scheduled:nightly}
          - {cron: "0 4 * * *", params: {day: "2026-11-21", limit: "x"}}
          - {cron: "0 5 * * *", params: {day: "2026-11-21"}}
    """
    check = checks_of(parse(job), settings, now)["params"]
    assert check.status == "error"
    assert check.reason == (
        "schedule t.scheduled:nightly does not set day (no default): it cannot start the job; "
        "schedule t.scheduled:2: params.limit: expected an integer, got 'x'"
    )
    given = """
        id: t.scheduled
        kind: shell
        command: [echo, "{day}"]
        params: {day: date}
        schedules: [{cron: "0 5 * * *", params: {day: "2026-11-21"}}]
    """
    check = checks_of(parse(given), settings, now)["params"]
    assert (check.status, check.reason) == (
        "warning",
        "needs day when started by hand (its schedules set them)",
    )


# -- secrets ------------------------------------------------------------------------------------

HTTP_JOB = """
    id: t.http
    kind: http
    url: https://api.example.org/ping
    headers:
      Authorization: "Bearer ${env:CHECK_TOKEN}"
      X-Key: "${secret:api_key}"
"""


def test_environment_references_must_be_set_and_no_value_is_shown(
    settings: Settings, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    definition = parse(HTTP_JOB)
    monkeypatch.delenv("CHECK_TOKEN", raising=False)
    check = checks_of(definition, settings, now, secret_names=lambda: {"api_key"})["secrets"]
    assert (check.status, check.reason) == (
        "error",
        "headers.Authorization: environment variable CHECK_TOKEN is not set",
    )
    monkeypatch.setenv("CHECK_TOKEN", "s3cret-value")
    check = checks_of(definition, settings, now, secret_names=lambda: {"api_key"})["secrets"]
    assert check.status == "ok"
    assert check.reason == (
        "set: ${env:CHECK_TOKEN} (headers.Authorization), ${secret:api_key} (headers.X-Key)"
    )
    assert "s3cret" not in repr(check_definition(definition, settings, now=now))


def test_secret_references_are_checked_against_the_secret_names(
    settings: Settings, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHECK_TOKEN", "x")
    definition = parse(HTTP_JOB)
    unknown = checks_of(definition, settings, now, secret_names=lambda: {"other"})["secrets"]
    assert (unknown.status, unknown.reason) == (
        "error",
        "headers.X-Key: secret 'api_key' does not exist (rota secrets set api_key)",
    )
    nowhere = checks_of(definition, settings, now)["secrets"]
    assert (nowhere.status, nowhere.reason) == (
        "warning",
        "headers.X-Key: ${secret:api_key} not checked: secret store not available here",
    )

    def broken() -> set[str]:
        raise RuntimeError("no secrets table")

    failing = checks_of(definition, settings, now, secret_names=broken)["secrets"]
    assert failing.status == "warning"
    assert "(RuntimeError: no secrets table)" in failing.reason


def test_references_of_shell_environments_and_connection_urls_are_found(
    project: Path, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHECK_DB_PASSWORD", raising=False)
    settings = load_settings(
        project, connections={"crm": "postgresql://crm:${env:CHECK_DB_PASSWORD}@db/crm"}
    )
    shell = parse("{id: t.sh, kind: shell, command: [env], env: {set: {TOKEN: '${secret:tok}'}}}")
    check = checks_of(shell, settings, now, secret_names=set)["secrets"]
    assert check.reason == "env.set.TOKEN: secret 'tok' does not exist (rota secrets set tok)"
    data = checks_of(parse(CSV_JOB), settings, now)["secrets"]
    assert (data.status, data.reason) == (
        "error",
        "connections.crm: environment variable CHECK_DB_PASSWORD is not set",
    )
    bad = load_settings(project, connections={"crm": "sqlite:///${vault:crm}"})
    check = checks_of(parse(CSV_JOB), bad, now)["secrets"]
    assert check.status == "error"
    assert check.reason.startswith("connections.crm: ${vault:...} is not a known reference")


# -- file sources and targets -------------------------------------------------------------------


def test_a_file_source_must_be_present_and_have_the_mapped_fields(
    project: Path, settings: Settings, now: datetime
) -> None:
    definition = parse(EXPORT_JOB)
    ok = checks_of(definition, settings, now)["source"]
    assert (ok.status, ok.reason) == ("ok", "data/members.csv is readable (33 bytes)")
    (project / "data" / "members.csv").write_text("Number,E-mail\n1,a@example.org\n")
    typo = checks_of(definition, settings, now)["source"]
    assert typo.status == "error"
    assert typo.reason.startswith(
        "data/members.csv: mapping.member_no.field: 'Member No' is not a field of the source"
    )
    (project / "data" / "members.csv").unlink()
    missing = checks_of(definition, settings, now)["source"]
    assert (missing.status, missing.reason) == (
        "error",
        "source missing: members.csv (looked for data/members.csv)",
    )


def test_a_file_source_outside_the_data_folders_is_an_error(
    settings: Settings, now: datetime
) -> None:
    definition = parse(EXPORT_JOB.replace("path: members.csv", "path: ../secrets.csv"))
    check = checks_of(definition, settings, now)["source"]
    assert (check.status, check.reason) == (
        "error",
        "source.path: '../secrets.csv': '..' is not allowed in data paths",
    )


def test_a_folder_is_not_a_source_file(project: Path, settings: Settings, now: datetime) -> None:
    (project / "data" / "members.csv").unlink()
    (project / "data" / "members.csv").mkdir()
    check = checks_of(parse(EXPORT_JOB), settings, now)["source"]
    assert (check.status, check.reason) == (
        "error",
        "source.path: data/members.csv is a folder, not a file",
    )


def test_an_unreadable_source_and_an_unwritable_target_folder_are_errors(
    project: Path, settings: Settings, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Permissions as this user sees them (root may read and write everything, so the answer
    # of os.access is what the test sets, not a chmod).
    monkeypatch.setattr(probes.os, "access", lambda path, mode: False)
    (project / "data" / "exports").mkdir()
    checks = checks_of(parse(EXPORT_JOB), settings, now)
    assert checks["source"].reason == "source.path: data/members.csv is not readable by this user"
    assert checks["target"].reason == "target.path: folder data/exports is not writable"


def test_a_file_target_needs_a_writable_folder_inside_the_data_folders(
    project: Path, settings: Settings, now: datetime
) -> None:
    definition = parse(EXPORT_JOB)
    later = checks_of(definition, settings, now)["target"]
    assert (later.status, later.reason) == (
        "ok",
        "folder data/exports will be created in data (writable)",
    )
    (project / "data" / "exports").mkdir()
    assert checks_of(definition, settings, now)["target"].reason == (
        "folder data/exports is writable"
    )
    (project / "data" / "exports" / "members.csv").write_text("old")
    keep = replace(
        definition,
        spec={**definition.spec, "target": {**definition.spec["target"], "overwrite": False}},
    )
    check = checks_of(keep, settings, now)["target"]
    assert (check.status, check.reason) == (
        "error",
        "target.path: data/exports/members.csv exists (overwrite: false)",
    )
    outside = parse(EXPORT_JOB.replace("path: exports/members.csv", "path: /etc/members.csv"))
    check = checks_of(outside, settings, now)["target"]
    assert (check.status, check.reason) == (
        "error",
        "target.path: '/etc/members.csv' is outside the data folders",
    )
    (project / "data" / "blocked").write_text("a file where a folder should be")
    blocked = parse(EXPORT_JOB.replace("path: exports/members.csv", "path: blocked/members.csv"))
    check = checks_of(blocked, settings, now)["target"]
    assert (check.status, check.reason) == ("error", "target.path: data/blocked is not a folder")


def test_an_sql_target_on_a_missing_sqlite_file_is_an_error_and_creates_nothing(
    project: Path, settings: Settings, now: datetime
) -> None:
    check = checks_of(parse(CSV_JOB), settings, now)["target"]
    assert (check.status, check.reason) == (
        "error",
        "connection 'crm': database file .rota/crm.db does not exist",
    )
    assert not (project / ".rota").exists()
    unknown = load_settings(project, connections={"erp": "sqlite:///erp.db"})
    check = checks_of(parse(CSV_JOB), unknown, now)["target"]
    assert (check.status, check.reason) == (
        "error",
        "no connection 'crm' in rota.toml (known: erp)",
    )


# -- schedules ----------------------------------------------------------------------------------


def test_schedules_need_a_next_fire_time(settings: Settings, now: datetime) -> None:
    job = """
        id: t.sched
        kind: shell
        command: [echo]
        schedules:
          - {cron: "0 3 * * *", tz: Europe/Berlin}
          - {once: "2030-01-01T00:00:00Z", id: t.sched:later}
    """
    check = checks_of(parse(job), settings, now)["schedules"]
    assert (check.status, check.reason) == (
        "ok",
        "t.sched:1 next fires 2026-11-21T02:00:00Z; t.sched:later next fires 2030-01-01T00:00:00Z",
    )
    past = parse(job.replace("2030-01-01", "2020-01-01"))
    check = checks_of(past, settings, now)["schedules"]
    assert check.status == "error"
    assert check.reason.startswith("t.sched:later never fires again (")


def test_an_inactive_job_or_a_disabled_group_starts_nothing_by_schedule(
    settings: Settings, now: datetime
) -> None:
    job = "{id: t.g, kind: shell, command: [echo], group: maint, schedules: [{every: 1h}]}"
    definition = parse(job)
    check = checks_of(definition, settings, now, disabled_groups={"maint"})["schedules"]
    assert (check.status, check.reason) == (
        "warning",
        "group maint is disabled: its schedules start nothing",
    )
    check = checks_of(replace(definition, active=False), settings, now)["schedules"]
    assert (check.status, check.reason) == (
        "warning",
        "the job is inactive: its schedules start nothing",
    )


# -- destructive --------------------------------------------------------------------------------


def test_a_destructive_job_says_what_it_destroys(settings: Settings, now: datetime) -> None:
    job = "{id: t.rm, kind: shell, command: [echo], destructive: true, description: %s}"
    described = checks_of(parse(job % "'Removes old exports.'"), settings, now)["destructive"]
    assert (described.status, described.reason) == ("ok", "described: Removes old exports.")
    silent = checks_of(parse(job % "''"), settings, now)["destructive"]
    assert (silent.status, silent.reason) == (
        "warning",
        "destructive, but no description says what it destroys",
    )
    harmless = parse("{id: t.echo, kind: shell, command: [echo]}")
    assert "destructive" not in checks_of(harmless, settings, now)


def test_a_delete_job_without_a_description_is_an_error(settings: Settings, now: datetime) -> None:
    deleting = parse(CSV_JOB.replace("action: upsert", "action: delete"))
    check = checks_of(deleting, settings, now)["destructive"]
    assert check.status == "error"
    assert check.reason == (
        "deletes records from members but has no description of what it destroys; "
        "deletes records but is not marked destructive: true (a manual run needs no --yes)"
    )
    marked = replace(deleting, destructive=True, description="Deletes members who left.")
    check = checks_of(marked, settings, now)["destructive"]
    assert (check.status, check.reason) == ("ok", "described: Deletes members who left.")


# -- target databases ---------------------------------------------------------------------------


@pytest.fixture
def table(target_url: str, table_name: str, tmp_path: Path) -> Iterator[str]:
    """A members table no other test uses, with two rows, in the ``target_url`` database."""
    engine = open_engine(target_url, tmp_path)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {table_name} (member_no INTEGER PRIMARY KEY, email TEXT, status TEXT)"
        )
        conn.exec_driver_sql(
            f"INSERT INTO {table_name} VALUES"
            " (1, 'a@example.org', 'active'), (2, 'b@example.org', 'x')"
        )
    try:
        yield table_name
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table_name}")
        engine.dispose()


# -- SQL sources --------------------------------------------------------------------------------


def test_a_query_source_is_ok_when_the_query_prepares(
    project: Path, target_url: str, table: str, now: datetime
) -> None:
    check = checks_of(query_job(table), settings_for(project, target_url), now)["source"]
    assert (check.status, check.reason) == (
        "ok",
        "connection 'crm' opens; the query prepares (2 columns)",
    )


def test_a_query_that_does_not_run_is_an_error(
    project: Path, target_url: str, table: str, now: datetime
) -> None:
    definition = query_job(table, "SELECT member_no FROM no_such_table WHERE status = :status")
    check = checks_of(definition, settings_for(project, target_url), now)["source"]
    assert check.status == "error"
    assert check.reason.startswith("source.query does not run on 'crm': ")
    assert "no_such_table" in check.reason


def test_a_field_the_query_does_not_return_is_an_error(
    project: Path, target_url: str, table: str, now: datetime
) -> None:
    definition = query_job(table, None, member_no="member_no", email="mail")
    check = checks_of(definition, settings_for(project, target_url), now)["source"]
    assert check.status == "error"
    assert check.reason.startswith(
        "the query on 'crm': mapping.email.field: 'mail' is not a field of the source"
    )


def test_the_query_probe_reads_no_rows_and_changes_nothing(
    project: Path, target_url: str, table: str, now: datetime, tmp_path: Path
) -> None:
    """LIMIT 0 around the query: on PostgreSQL a query that fails on its second row (a
    division by zero) still prepares, so the probe evaluated no row; the table is as it was."""
    query = (
        f"SELECT member_no, email, 1 / (member_no - 2) AS boom FROM {table} WHERE status <> :status"
    )
    definition = query_job(table, query, member_no="member_no", email="email")
    check = checks_of(definition, settings_for(project, target_url), now)["source"]
    assert check.status == "ok", check
    engine = open_engine(target_url, tmp_path)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == 2
    finally:
        engine.dispose()


# -- SQL targets --------------------------------------------------------------------------------


def test_a_table_with_every_mapped_column_is_ok(
    project: Path, target_url: str, table: str, now: datetime
) -> None:
    check = checks_of(import_job(table), settings_for(project, target_url), now)["target"]
    assert (check.status, check.reason) == (
        "ok",
        f"table {table!r} on 'crm' has every mapped column (2)",
    )


def test_a_missing_table_is_an_error(
    project: Path, target_url: str, table: str, now: datetime
) -> None:
    check = checks_of(import_job("nowhere"), settings_for(project, target_url), now)["target"]
    assert (check.status, check.reason) == (
        "error",
        "target.table: no table 'nowhere' in the target database (connection 'crm')",
    )


def test_a_missing_column_is_an_error(
    project: Path, target_url: str, table: str, now: datetime
) -> None:
    definition = import_job(table, member_no="Member No", phone="E-mail")
    check = checks_of(definition, settings_for(project, target_url), now)["target"]
    assert (check.status, check.reason) == (
        "error",
        f"mapping.phone: table {table!r} has no column 'phone' (connection 'crm')",
    )


@pytest.mark.postgres
def test_a_server_that_refuses_the_connection_is_an_error(
    project: Path, postgres_url: str, now: datetime
) -> None:
    url = sa.engine.make_url(postgres_url).set(port=1).render_as_string(hide_password=False)
    check = checks_of(import_job("members"), settings_for(project, url), now)["target"]
    assert check.status == "error"
    assert check.reason.startswith("connection 'crm' does not open: ")


@pytest.mark.postgres
def test_the_options_of_a_postgresql_url_are_kept(
    project: Path, postgres_target_url: str, tmp_path: Path, now: datetime
) -> None:
    """The probe's session is read-only and keeps the URL's own options: a search_path set
    there still finds a table outside ``public``."""
    engine = open_engine(postgres_target_url, tmp_path)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS crm_checks")
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS crm_checks.people (member_no INTEGER, email TEXT)"
        )
    engine.dispose()
    url = f"{postgres_target_url}?options=-csearch_path%3Dcrm_checks"
    check = checks_of(import_job("people"), settings_for(project, url), now)["target"]
    assert (check.status, check.reason) == (
        "ok",
        "table 'people' on 'crm' has every mapped column (2)",
    )
    connections = probes.Connections(settings_for(project, url))
    try:
        with connections.engine("crm").connect() as conn:
            assert conn.exec_driver_sql("SHOW transaction_read_only").scalar() == "on"
    finally:
        connections.close()


def test_a_sqlite_connection_is_opened_read_only_and_never_created(
    project: Path, tmp_path: Path, now: datetime
) -> None:
    missing = tmp_path / "missing.db"
    check = checks_of(import_job("members"), settings_for(project, f"sqlite:///{missing}"), now)
    assert check["target"].reason == f"connection 'crm': database file {missing} does not exist"
    assert not missing.exists()


def test_connection_urls_resolve_environment_references(
    project: Path, table: str, target_url: str, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _, database = target_url.rpartition("/")
    settings = settings_for(project, folder + "/${env:CHECK_CRM_DB}")
    monkeypatch.delenv("CHECK_CRM_DB", raising=False)
    check = checks_of(import_job(table), settings, now)["target"]
    assert (check.status, check.reason) == (
        "error",
        "connection 'crm': connections.crm: environment variable CHECK_CRM_DB is not set",
    )
    monkeypatch.setenv("CHECK_CRM_DB", database)
    assert checks_of(import_job(table), settings, now)["target"].status == "ok"


def test_a_connection_url_that_is_not_one_is_an_error_that_does_not_quote_it(
    project: Path, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHECK_CRM_URL", "not a url, password s3cret")
    settings = settings_for(project, "${env:CHECK_CRM_URL}")
    check = checks_of(import_job("members"), settings, now)["target"]
    assert (check.status, check.reason) == (
        "error",
        "connection 'crm': connections.crm: is not a database URL",
    )


def test_a_secret_in_a_connection_url_is_resolved_only_inside_a_secret_scope(
    project: Path, table: str, target_url: str, now: datetime
) -> None:
    folder, _, database = target_url.rpartition("/")
    settings = settings_for(project, folder + "/${secret:crm_db}")
    check = checks_of(import_job(table), settings, now)["target"]
    assert (check.status, check.reason) == (
        "warning",
        "connection 'crm' not opened: its URL uses ${secret:crm_db}, which resolves only inside a run",
    )

    class Scope:
        def value(self, name: str, field: str) -> str:
            return database

    token = CURRENT.set(Scope())  # type: ignore[arg-type]
    try:
        assert checks_of(import_job(table), settings, now)["target"].status == "ok"
    finally:
        CURRENT.reset(token)


# -- HTTP ---------------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[Server]:
    """Empty replies; 404 on a path without a route."""
    with serve(fallback=Reply(404, b"")) as running:
        yield running


def answers(**statuses: int) -> Route:
    """Empty replies by method (``HEAD=405, GET=200``); any other method: 404."""
    return lambda seen: Reply(statuses.get(seen.method, 404), b"")


def http_source_job(url: str) -> JobDefinition:
    return job(
        id="api.import",
        kind="data",
        source={
            "type": "http",
            "url": url,
            "params": {"status": "active", "api_key": "hidden"},
            "headers": {"Authorization": "Bearer ${env:CHECK_API_TOKEN}"},
        },
        target={"type": "csv", "path": "out/members.csv"},
        action="transfer",
        mapping={"member_no": {"field": "id"}},
    )


def http_target_job(url: str) -> JobDefinition:
    return job(
        id="api.export",
        kind="data",
        source={"type": "csv", "path": "members.csv"},
        target={"type": "http", "url": url},
        action="transfer",
        mapping={"member_no": {"field": "Member No"}},
    )


def test_an_http_source_answering_head_is_ok_and_gets_its_headers(
    project: Path, server: Server, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHECK_API_TOKEN", "t0ken-value")
    server.routes["/members"] = answers(HEAD=200)
    check = checks_of(http_source_job(server.url("/members")), load_settings(project), now)
    assert (check["source"].status, check["source"].reason) == (
        "ok",
        f"http://127.0.0.1:{server.port}/members?... answered HEAD 200",
    )
    seen = server.seen[-1]
    assert (seen.method, seen.target) == ("HEAD", "/members?status=active&api_key=hidden")
    assert seen.headers["authorization"] == "Bearer t0ken-value"
    assert "hidden" not in repr(check) and "t0ken" not in repr(check)


def test_an_http_source_refusing_head_is_asked_with_get(
    project: Path, server: Server, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHECK_API_TOKEN", "x")
    server.routes["/members"] = answers(HEAD=405, GET=200)
    check = checks_of(http_source_job(server.url("/members")), load_settings(project), now)
    assert check["source"].status == "ok"
    assert check["source"].reason.endswith("answered HEAD 405, GET 200")


def test_an_http_source_answering_an_error_is_an_error(
    project: Path, server: Server, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHECK_API_TOKEN", "x")
    check = checks_of(http_source_job(server.url("/gone")), load_settings(project), now)
    assert (check["source"].status, check["source"].reason) == (
        "error",
        f"http://127.0.0.1:{server.port}/gone?... answered HEAD 404",
    )


def test_a_refusal_without_an_unresolvable_header_is_only_a_warning(
    project: Path, server: Server, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHECK_API_TOKEN", raising=False)
    server.routes["/members"] = answers(HEAD=401)
    checks = checks_of(http_source_job(server.url("/members")), load_settings(project), now)
    assert checks["source"].status == "warning"
    assert checks["source"].reason.endswith(
        "answered HEAD 401 without header Authorization (not resolvable here)"
    )
    assert "authorization" not in server.seen[-1].headers
    assert checks["secrets"].status == "error"  # the secrets check says why


def test_an_http_source_that_cannot_be_reached_is_an_error(
    project: Path, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHECK_API_TOKEN", "x")
    check = checks_of(http_source_job("http://127.0.0.1:1/members"), load_settings(project), now)
    assert check["source"].status == "error"
    assert check["source"].reason.startswith("HEAD http://127.0.0.1:1/members?... failed: ")


def test_an_http_target_answering_head_or_options_is_ok(
    project: Path, server: Server, now: datetime
) -> None:
    server.routes["/bulk"] = answers(HEAD=204)
    check = checks_of(http_target_job(server.url("/bulk")), load_settings(project), now)
    assert (check["target"].status, check["target"].reason) == (
        "ok",
        f"http://127.0.0.1:{server.port}/bulk answered HEAD 204",
    )
    server.routes["/bulk"] = answers(HEAD=405, OPTIONS=200)
    check = checks_of(http_target_job(server.url("/bulk")), load_settings(project), now)
    assert check["target"].reason.endswith("answered HEAD 405, OPTIONS 200")
    assert [s.method for s in server.seen] == ["HEAD", "HEAD", "OPTIONS"]  # never a POST


def test_an_http_target_refusing_every_probe_method_is_a_warning(
    project: Path, server: Server, now: datetime
) -> None:
    server.routes["/bulk"] = answers(HEAD=405, OPTIONS=405)
    check = checks_of(http_target_job(server.url("/bulk")), load_settings(project), now)
    assert (check["target"].status, check["target"].reason) == (
        "warning",
        f"http://127.0.0.1:{server.port}/bulk answered HEAD 405, OPTIONS 405: "
        "reachable; only a real batch shows it takes records",
    )


def test_an_http_target_answering_an_error_is_an_error(
    project: Path, server: Server, now: datetime
) -> None:
    server.routes["/bulk"] = answers(HEAD=500)
    check = checks_of(http_target_job(server.url("/bulk")), load_settings(project), now)
    assert check["target"].status == "error"
    assert check["target"].reason.endswith("answered HEAD 500")


def test_a_configured_probe_is_asked_instead_of_the_endpoint(
    project: Path, server: Server, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHECK_API_TOKEN", "t0ken-value")
    server.routes["/health"] = answers(GET=200)
    source = dict(http_source_job(server.url("/members")).spec["source"])  # type: ignore[arg-type]
    source["probe"] = {"url": server.url("/health"), "method": "GET"}
    definition = job(
        id="api.import",
        kind="data",
        source=source,
        target={"type": "csv", "path": "out/members.csv"},
        action="transfer",
        mapping={"member_no": {"field": "id"}},
    )
    check = checks_of(definition, load_settings(project), now)
    assert (check["source"].status, check["source"].reason) == (
        "ok",
        f"http://127.0.0.1:{server.port}/health answered GET 200",
    )
    assert [(s.method, s.path) for s in server.seen] == [("GET", "/health")]
    assert server.seen[-1].headers["authorization"] == "Bearer t0ken-value"

    server.routes["/health"] = answers(GET=503)
    check = checks_of(definition, load_settings(project), now)
    assert check["source"].status == "error"
    assert check["source"].reason.endswith("/health answered GET 503")


def test_a_target_probe_that_fails_is_an_error(
    project: Path, server: Server, now: datetime
) -> None:
    server.routes["/ping"] = answers(HEAD=404)
    target = {"type": "http", "url": server.url("/bulk"), "probe": {"url": server.url("/ping")}}
    definition = job(
        id="api.export",
        kind="data",
        source={"type": "csv", "path": "members.csv"},
        target=target,
        action="transfer",
        mapping={"member_no": {"field": "Member No"}},
    )
    check = checks_of(definition, load_settings(project), now)
    assert (check["target"].status, check["target"].reason) == (
        "error",
        f"http://127.0.0.1:{server.port}/ping answered HEAD 404",
    )


@pytest.mark.parametrize(
    ("probe", "field", "words"),
    [
        ({"method": "GET"}, "source.probe.url", "is required"),
        ({"url": "https://x.example/health", "method": "POST"}, "source.probe.method", "HEAD"),
        ({"url": "https://x.example/health", "path": "/x"}, "source.probe.path", "not a probe"),
        ("https://x.example/health", "source.probe", "must be a mapping"),
    ],
)
def test_a_bad_probe_is_refused_naming_the_option(probe: object, field: str, words: str) -> None:
    from rota.data.sources import check_source_config

    with pytest.raises(InvalidInputError) as caught:
        check_source_config({"type": "http", "url": "https://x.example/api", "probe": probe})
    assert caught.value.field == field
    assert words in caught.value.reason


# -- check_jobs on a store ----------------------------------------------------------------------

PROJECT_JOBS = {
    "export.yaml": """
        id: members.export
        kind: data
        source: {type: csv, path: members.csv}
        target: {type: csv, path: out/members.csv}
        action: transfer
        mapping:
          member_no: {field: "Member No"}
    """,
    "purge.yaml": """
        id: members.purge
        kind: shell
        command: [echo, "{days}"]
        destructive: true
        group: maintenance
        params: {days: {type: int, default: 30}}
        schedules: [{cron: "0 3 * * *", id: purge.nightly}]
    """,
    "code.py": """
        from rota import job

        @job(id="code.run")
        def run(ctx):
            return 1
    """,
}


@pytest.fixture
def synced(store: Store, project: Path, now: datetime) -> Store:
    for name, text in PROJECT_JOBS.items():
        (project / "jobs" / name).write_text(textwrap.dedent(text))
    report = sync_project(store, project, now)
    assert not report.errors, report.errors
    return store


def statuses(checks: list[Check]) -> dict[tuple[str, str], str]:
    return {(c.job, c.name): c.status for c in checks}


def test_check_jobs_checks_every_synced_job(synced: Store, project: Path, now: datetime) -> None:
    checks = check_jobs(synced, project, load_settings(project), now=now)
    assert statuses(checks) == {
        ("code.run", "definition"): "ok",
        ("code.run", "params"): "ok",
        ("members.export", "definition"): "ok",
        ("members.export", "params"): "ok",
        ("members.export", "secrets"): "ok",
        ("members.export", "source"): "ok",
        ("members.export", "target"): "ok",
        ("members.purge", "definition"): "ok",
        ("members.purge", "params"): "ok",
        ("members.purge", "secrets"): "ok",
        ("members.purge", "schedules"): "ok",
        ("members.purge", "destructive"): "warning",
    }
    assert not check_service.has_errors(checks)


def test_check_jobs_names_an_unknown_job_before_probing_anything(
    synced: Store, project: Path, now: datetime
) -> None:
    with pytest.raises(NotFoundError, match="job 'nope' not found"):
        check_jobs(synced, project, load_settings(project), ["members.export", "nope"], now=now)


def test_check_jobs_sees_paused_schedules_disabled_groups_and_broken_code(
    synced: Store, project: Path, now: datetime
) -> None:
    synced.pause_schedule("purge.nightly", True, "bank holiday", "ops", now)
    synced.set_group_enabled("maintenance", False, "migration", "ops", now)
    (project / "jobs" / "code.py").write_text("raise RuntimeError('half-written')\n")
    settings = load_settings(project)
    checks = {
        (c.job, c.name): c
        for c in check_jobs(synced, project, settings, ["members.purge", "code.run"], now=now)
    }
    schedules = checks["members.purge", "schedules"]
    assert (schedules.status, schedules.reason) == (
        "warning",
        "purge.nightly is paused (bank holiday); "
        "group maintenance is disabled: its schedules start nothing",
    )
    code = checks["code.run", "definition"]
    assert code.status == "error"
    assert "RuntimeError: half-written" in code.reason


def test_a_removed_job_asked_for_by_name_is_an_error(
    synced: Store, project: Path, now: datetime
) -> None:
    (project / "jobs" / "export.yaml").unlink()
    sync_project(synced, project, now)
    (check,) = check_jobs(synced, project, load_settings(project), ["members.export"], now=now)
    assert (check.status, check.reason) == (
        "error",
        "removed from the project at the last sync (its runs stay readable)",
    )
