"""``rota jobs``: list, show, sync and check job definitions."""

from __future__ import annotations

import sys

import click
from rich.markup import escape
from rich.table import Table

from rota.cli.errors import ExitCode
from rota.cli.main import App, handle_errors, pass_app
from rota.cli.output import console, duration_text, errors, print_json
from rota.cli.schedules import schedules_table
from rota.model.runs import iso
from rota.services import checks as check_service
from rota.services import jobs as job_service
from rota.services import schedules as schedule_service
from rota.services import secrets as secret_service


@click.group("jobs")
def jobs() -> None:
    """Job definitions."""


@jobs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_jobs(app: App, as_json: bool) -> None:
    """Jobs known to the store (sync first to pick up changes)."""
    stored = job_service.list_jobs(app.store)
    if as_json:
        print_json([{**s.definition.to_json(), "version": s.version} for s in stored])
        return
    table = Table(box=None, header_style="bold")
    for column in ("id", "kind", "v", "name", "owner", "params", "flags"):
        table.add_column(column)
    for s in stored:
        d = s.definition
        flags = [
            name
            for name, on in (
                ("inactive", not d.active),
                ("destructive", d.destructive),
                ("idempotent", d.idempotent),
            )
            if on
        ]
        params = ", ".join(f"{p.name}{'*' if p.required else ''}" for p in d.params.specs)
        table.add_row(d.id, d.kind.value, str(s.version), d.name, d.owner, params, " ".join(flags))
    console.print(table)


@jobs.command("show")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def show(app: App, job_id: str, as_json: bool) -> None:
    """One job: metadata, parameters, policies."""
    stored = job_service.get_job(app.store, job_id)
    d = stored.definition
    schedules = schedule_service.list_schedules(app.store, job=job_id)
    if as_json:
        print_json(
            {
                **d.to_json(),
                "schedules": [s.to_json() for s in schedules],
                "version": stored.version,
                "synced_at": iso(stored.synced_at),
            }
        )
        return
    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("id", f"{d.id} (version {stored.version}, {d.kind.value})"),
        ("name", d.name),
        ("description", d.description),
        ("owner", d.owner),
        ("tags", ", ".join(d.tags)),
        ("required role", d.required_role or "-"),
        ("expected runtime", duration_text(d.expected_runtime)),
        ("timeout", duration_text(d.timeout)),
        ("retry", f"{d.retry.max_attempts} attempts, backoff {d.retry.backoff_seconds:g}s"),
        ("idempotent", "yes" if d.idempotent else "no (a lost worker fails the run)"),
        ("destructive", "yes (needs --yes)" if d.destructive else "no"),
        ("priority", str(d.priority)),
        ("active", "yes" if d.active else "no"),
        ("expires", d.expires_at.isoformat() if d.expires_at else "-"),
        ("group", d.group or "-"),
        ("overlap", f"{d.overlap.value} (when a schedule fires during a run)"),
        ("tenant", d.tenant),
        ("source", d.source),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    if d.params.specs:
        params = Table(title="parameters", box=None, header_style="bold", title_justify="left")
        for column in ("name", "type", "default", "rules", "description"):
            params.add_column(column)
        for p in d.params.specs:
            rules = []
            if p.min is not None:
                rules.append(f"min {p.min:g}")
            if p.max is not None:
                rules.append(f"max {p.max:g}")
            if p.pattern:
                rules.append(f"pattern {p.pattern}")
            if p.choices:
                rules.append("one of " + "|".join(p.choices))
            default = "(required)" if p.required else repr(p.default)
            params.add_row(p.name, p.type.value, default, ", ".join(rules), p.description)
        console.print(params)
    if schedules:
        console.print(schedules_table(schedules, title="schedules"))


@jobs.command("sync")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def sync(app: App, as_json: bool) -> None:
    """Load the project's jobs/ folder into the store; changed jobs get a new version."""
    report = job_service.sync_project(
        app.store,
        app.settings.project,
        default_tz=app.settings.timezone,
        resources=app.settings.resource_definitions,
    )
    if as_json:
        print_json(
            {
                "jobs": [
                    {"job": r.job, "version": r.version, "change": r.change} for r in report.results
                ],
                "errors": [
                    {"source": e.source, "field": e.field, "reason": e.reason}
                    for e in report.errors
                ],
            }
        )
    else:
        for r in report.results:
            if r.change != "unchanged":
                console.print(f"{r.change:>9}  {r.job} (version {r.version})", highlight=False)
        counts = {
            c: sum(r.change == c for r in report.results) for c in ("new", "changed", "removed")
        }
        active = len(report.results) - counts["removed"]
        console.print(
            f"{active} jobs synced: {counts['new']} new, {counts['changed']} changed, "
            f"{counts['removed']} removed",
            highlight=False,
        )
        for e in report.errors:
            errors.print(f"[red]invalid:[/] {e}", highlight=False)
    if report.errors:
        sys.exit(ExitCode.BAD_INPUT)


CHECK_STYLE = {"ok": "green", "warning": "yellow", "error": "red"}


@jobs.command("check")
@click.argument("job_ids", nargs=-1, metavar="[JOB]...")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def check(app: App, job_ids: tuple[str, ...], as_json: bool) -> None:
    """Pre-flight checks of synced jobs (all without JOB): definition, parameters, secrets,
    source and target, schedules, destructive jobs. Exits 2 when a check is an error."""
    results = check_service.check_jobs(
        app.store,
        app.settings.project,
        app.settings,
        list(job_ids) or None,
        secret_names=lambda: secret_service.secret_names(app.store),
    )
    if as_json:
        print_json([c.to_json() for c in results])
    else:
        table = Table(box=None, header_style="bold")
        for column in ("job", "check", "status", "reason"):
            table.add_column(column, overflow="fold")
        for c in results:
            status = f"[{CHECK_STYLE[c.status]}]{c.status}[/]"
            table.add_row(c.job, c.name, status, escape(c.reason))
        console.print(table)
        counts = {s: sum(c.status == s for c in results) for s in CHECK_STYLE}
        console.print(
            f"{_count(len(results), 'check')}: {counts['ok']} ok, "
            f"{_count(counts['warning'], 'warning')}, {_count(counts['error'], 'error')}",
            highlight=False,
        )
    if check_service.has_errors(results):
        sys.exit(ExitCode.BAD_INPUT)


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def register(cli: click.Group) -> None:
    cli.add_command(jobs)
