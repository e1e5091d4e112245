"""Printing for people (rich) and for scripts (``--json``): one function per shape."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from rota.model.runs import Run, iso

# soft_wrap: a message is one line however narrow the terminal (scripts grep for it).
# No emoji codes: ids such as "x:on:1" are text, not ":on:" pictures.
console = Console(soft_wrap=True, emoji=False)
errors = Console(stderr=True, soft_wrap=True, emoji=False)

STATUS_STYLE = {
    "completed": "green",
    "partial": "yellow",
    "failed": "red",
    "canceled": "magenta",
    "running": "cyan",
    "queued": "blue",
    "pending": "dim",
}


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """A cell a spreadsheet will not run: text starting like a formula gets a leading ``'``
    (record keys and errors come from source files, which anyone may have written)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def status_text(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def runs_table(runs: list[Run]) -> Table:
    table = Table(box=None, header_style="bold")
    for column in ("id", "job", "status", "trigger", "attempt", "created", "duration", "records"):
        table.add_column(column)
    for run in runs:
        c = run.counters
        records = f"{c.processed} ({c.failed} failed)" if c.processed else "-"
        table.add_row(
            str(run.id),
            run.job,
            status_text(run.status.value),
            run.trigger.value,
            f"{run.attempt}/{run.max_attempts}",
            run.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            duration_text(run.duration),
            records,
        )
    return table


def run_summary(run: Run) -> Table:
    """The end-of-run summary: status, duration, records, changed data, error."""
    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    c = run.counters
    table.add_row("run", f"{run.id} ({run.job} v{run.job_version})")
    table.add_row(
        "status", status_text(run.status.value) + (f" - {run.reason}" if run.reason else "")
    )
    table.add_row("attempt", f"{run.attempt} of {run.max_attempts}")
    started_by = f"{run.trigger.value} by {run.triggered_by or '-'}"
    if run.run_as and run.run_as != run.triggered_by:
        started_by += f", acting as {run.run_as}"
    if run.schedule_id and run.scheduled_for:
        started_by += f" (schedule {run.schedule_id}, nominal {iso(run.scheduled_for)})"
    table.add_row("started by", started_by)
    waiting = run.waiting_for
    if waiting is not None:
        table.add_row("waits for", str(waiting.get("reason", "")))
    if run.parent_id is not None and run.step is not None:
        table.add_row("step", f"{run.step} of process run {run.parent_id}")
    table.add_row("duration", duration_text(run.duration))
    table.add_row(
        "records",
        f"{c.processed} processed, {c.succeeded} succeeded, {c.failed} failed, {c.skipped} skipped",
    )
    table.add_row(
        "changed data",
        ("yes: " if run.data_changed else "no: ")
        + f"{c.inserted} inserted, {c.updated} updated, {c.deleted} deleted, {c.unchanged} unchanged",
    )
    if run.info:
        table.add_row("info", json.dumps(run.info, default=str))
    if run.result is not None:
        table.add_row("result", json.dumps(run.result, default=str)[:500])
    if run.external_calls:
        table.add_row(
            "external calls",
            ", ".join(f"{e['system']}: {e['what']}" for e in run.external_calls[:5]),
        )
    if run.error:
        table.add_row("error", f"[red]{run.error.type}: {run.error.message}[/]")
    if run.status.value in ("failed", "partial"):
        table.add_row(
            "next",
            f"rota runs records {run.id} --failed  |  rota runs logs {run.id}  |  rota runs retry {run.id}",
        )
    return table


def step_tree(run: Run) -> Tree:
    """A process run's steps, each under the step it needs first (a DAG drawn as a tree: a
    step needing several appears under its first need and names the others)."""
    tree = Tree(f"[bold]{run.job}[/] #{run.id} {status_text(run.status.value)}")
    nodes: dict[str, Tree] = {}
    for step in run.steps:
        shown = status_text(step.status.value) if step.status else f"[dim]{step.state}[/]"
        label = f"{step.name} ({step.job})  {shown}"
        if step.run_id is not None:
            label += f"  run {step.run_id}"
        if step.state == "kept":
            label += " [dim](kept)[/]"
        if step.reason and step.state in ("skipped", "failed"):
            label += f"  [dim]{escape(step.reason)}[/]"
        if len(step.needs) > 1:
            label += f"  [dim]needs {', '.join(step.needs)}[/]"
        parent = nodes.get(step.needs[0]) if step.needs else None
        nodes[step.name] = (parent or tree).add(label)
    return tree
