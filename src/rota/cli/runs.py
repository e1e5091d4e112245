"""``rota run`` and ``rota runs``: start, watch, inspect, cancel and retry runs."""

from __future__ import annotations

import csv
import sys
import time

import click
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from rota.cli.errors import ExitCode, exit_code_for_status
from rota.cli.main import App, handle_errors, pass_app
from rota.cli.output import (
    console,
    csv_safe,
    errors,
    print_json,
    run_summary,
    runs_table,
    status_text,
    step_tree,
)
from rota.model.errors import InvalidInputError
from rota.model.runs import Run, Trigger
from rota.model.status import RunStatus
from rota.services import runs as run_service
from rota.store.base import Store

WAIT_POLL_SECONDS = 0.2


def _parse_params(pairs: tuple[str, ...]) -> dict[str, object]:
    params: dict[str, object] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInputError("params", f"{pair!r} is not NAME=VALUE")
        params[name.strip()] = value
    return params


@click.command("run")
@click.argument("job_id")
@click.option(
    "-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="A parameter (repeatable)."
)
@click.option(
    "--wait", is_flag=True, help="Follow the run to its end; exit code says how it ended."
)
@click.option("--yes", is_flag=True, help="Confirm a destructive job.")
@click.option(
    "--dry-run", is_flag=True, help="Data jobs: preview the first records, change nothing."
)
@click.option("--priority", type=int, help="Override the job's priority.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the run as JSON (with --wait, the finished run)."
)
@pass_app
@handle_errors
def run(
    app: App,
    job_id: str,
    params: tuple[str, ...],
    wait: bool,
    yes: bool,
    dry_run: bool,
    priority: int | None,
    as_json: bool,
) -> None:
    """Start JOB_ID now with validated parameters."""
    created = run_service.start_run(
        app.store,
        job_id,
        _parse_params(params),
        trigger=Trigger.MANUAL,
        actor=app.actor,
        confirm=yes,
        priority=priority,
        dry_run=dry_run,
    )
    if not wait:
        if as_json:
            print_json(created.to_json())
        else:
            console.print(
                f"run {created.id} queued ({created.job} v{created.job_version}); "
                f"watch it: rota runs show {created.id}",
                highlight=False,
            )
        return
    finished = _follow(app.store, created, quiet=as_json)
    if as_json:
        print_json(finished.to_json())
    else:
        console.print(run_summary(finished))
    sys.exit(exit_code_for_status(finished.status))


def _follow(store: Store, created: Run, *, quiet: bool) -> Run:
    """Poll the run to its end, drawing a live progress bar unless ``quiet``."""
    current = created
    progress = Progress(
        TextColumn("[bold]{task.fields[job]}[/] #{task.fields[run]}"),
        TextColumn("{task.fields[status]}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=errors,
        transient=True,
        disable=quiet,
    )
    try:
        with progress:
            task = progress.add_task(
                "", total=None, job=current.job, run=current.id, status="queued", counts=""
            )
            while not current.status.terminal:
                time.sleep(WAIT_POLL_SECONDS)
                current = store.get_run(current.id)
                p, c = current.progress, current.counters
                progress.update(
                    task,
                    total=p.total,
                    completed=p.done,
                    description=p.message or "",
                    status=status_text(current.status.value),
                    counts=f"{c.processed} rec, {c.failed} failed" if c.processed else "",
                )
    except KeyboardInterrupt:
        errors.print(
            f"\nstopped watching; run {current.id} goes on. Cancel it with: rota runs cancel {current.id}",
            highlight=False,
        )
        sys.exit(ExitCode.INTERRUPTED)
    return current


@click.group("runs")
def runs() -> None:
    """Runs: history, details, logs, records, cancel and retry."""


@runs.command("list")
@click.option("--job", help="Only runs of this job.")
@click.option(
    "--status", type=click.Choice([s.value for s in RunStatus]), help="Only runs with this status."
)
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_runs(app: App, job: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """Newest runs first."""
    found = run_service.list_runs(app.store, job=job, status=status, limit=limit)
    if as_json:
        print_json([r.to_json() for r in found])
    elif found:
        console.print(runs_table(found))
    else:
        console.print("no runs")


@runs.command("show")
@click.argument("run_id", type=int)
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (with attempts and status history)."
)
@pass_app
@handle_errors
def show(app: App, run_id: int, as_json: bool) -> None:
    """One run: status, timings, counters, error, attempts and status history."""
    found = run_service.get_run(app.store, run_id)
    attempts = app.store.get_attempts(run_id)
    history = app.store.get_history(run_id)
    if as_json:
        print_json(
            {
                **found.to_json(),
                "attempts": [a.to_json() for a in attempts],
                "history": [h.to_json() for h in history],
            }
        )
        return
    console.print(run_summary(found))
    console.print(f"[bold]parameters[/] {found.params}", highlight=False)
    if found.steps:
        console.print(step_tree(found))
    for a in attempts:
        err = f" - {a.error.type}: {a.error.message}" if a.error else ""
        console.print(
            f"  attempt {a.number} on {a.worker}: {a.outcome or 'running'}{err}", highlight=False
        )
    for h in history:
        old = h.from_status.value if h.from_status else "-"
        why = f" ({h.reason})" if h.reason else ""
        console.print(
            f"  {h.at:%Y-%m-%d %H:%M:%S} {old} -> {h.to_status.value}{why}", highlight=False
        )
    if found.error and found.error.traceback:
        console.print(found.error.traceback, highlight=False, markup=False)


@runs.command("logs")
@click.argument("run_id", type=int)
@click.option("-f", "--follow", is_flag=True, help="Keep printing until the run ends.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_app
@handle_errors
def logs(app: App, run_id: int, follow: bool, as_json: bool) -> None:
    """The run's log, all attempts."""
    import json

    after = 0
    while True:
        lines = app.store.get_logs(run_id, after=after)
        for line in lines:
            if as_json:
                sys.stdout.write(json.dumps(line.to_json()) + "\n")
            else:
                sys.stdout.write(
                    f"{line.at:%H:%M:%S.%f}"[:-3]
                    + f" {line.level:<7} [{line.attempt}] {line.message}\n"
                )
            after = line.seq
        sys.stdout.flush()
        if not follow:
            return
        if not lines:
            if app.store.get_run(run_id).status.terminal and not app.store.get_logs(
                run_id, after=after
            ):
                return
            try:
                time.sleep(WAIT_POLL_SECONDS)
            except KeyboardInterrupt:
                return


@runs.command("records")
@click.argument("run_id", type=int)
@click.option("--failed", is_flag=True, help="Only records that failed.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV on stdout (key, action, error, attempt).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def records(app: App, run_id: int, failed: bool, as_csv: bool, as_json: bool) -> None:
    """Record-level results: which records were processed, which failed and why."""
    found = app.store.get_records(run_id, failed_only=failed, limit=1_000_000)
    if as_json:
        print_json([r.to_json() for r in found])
    elif as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["key", "action", "error", "attempt", "row"])
        for r in found:
            row = "" if r.row is None else r.row
            writer.writerow([csv_safe(r.key), r.action, csv_safe(r.error), r.attempt, row])
    else:
        for r in found:
            mark = f"[red]{r.action}[/] {r.error}" if r.error else f"[green]{r.action}[/]"
            where = f"row {r.row}\t" if r.row is not None and not r.key.startswith("row ") else ""
            console.print(f"{where}{r.key}\t{mark}", highlight=False)
        console.print(f"{len(found)} records", highlight=False)


@runs.command("cancel")
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@pass_app
@handle_errors
def cancel(app: App, run_id: int, as_json: bool) -> None:
    """Cancel a queued run at once, or ask a running one to stop (forced after a grace period)."""
    found = run_service.cancel_run(app.store, run_id, actor=app.actor)
    if as_json:
        print_json(found.to_json())
    elif found.status is RunStatus.CANCELED:
        console.print(f"run {run_id} canceled", highlight=False)
    else:
        grace = app.settings.cancel_grace_seconds
        console.print(
            f"run {run_id} asked to stop; it is stopped by force after {grace:g}s", highlight=False
        )


@runs.command("retry")
@click.argument("run_id", type=int)
@click.option("--yes", is_flag=True, help="Confirm a destructive job.")
@click.option("--wait", is_flag=True, help="Follow the new run to its end.")
@click.option("--json", "as_json", is_flag=True, help="Print the new run as JSON.")
@pass_app
@handle_errors
def retry(app: App, run_id: int, yes: bool, wait: bool, as_json: bool) -> None:
    """Start a new run with the same job and parameters as a failed, partial or canceled one."""
    created = run_service.retry_run(app.store, run_id, actor=app.actor, confirm=yes)
    finished = _follow(app.store, created, quiet=as_json) if wait else created
    if as_json:
        print_json(finished.to_json())
    elif wait:
        console.print(run_summary(finished))
    else:
        console.print(f"run {created.id} queued as a retry of run {run_id}", highlight=False)
    if wait:
        sys.exit(exit_code_for_status(finished.status))


def register(cli: click.Group) -> None:
    cli.add_command(run)
    cli.add_command(runs)
