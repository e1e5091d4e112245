"""``rota db``: schema migrations and retention."""

from __future__ import annotations

from datetime import timedelta

import click

from rota.cli.main import App, handle_errors, pass_app
from rota.cli.output import console, errors, print_json
from rota.model.errors import InvalidInputError
from rota.model.runs import iso

PRUNE_BATCH = 500


@click.group("db")
def db() -> None:
    """Database schema and retention."""


@db.command("upgrade")
@pass_app
@handle_errors
def upgrade(app: App) -> None:
    """Apply migrations up to the newest schema (safe to repeat)."""
    app.store.upgrade()
    console.print(f"database is up to date: {app.store.url}", highlight=False)


@db.command("prune")
@click.option(
    "--days",
    type=click.IntRange(min=0),
    help="Keep this many days (default: the retention_days setting); 0 prunes everything ended.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the totals as JSON.")
@pass_app
@handle_errors
def prune(app: App, days: int | None, as_json: bool) -> None:
    """Delete ended runs (with their attempts, history, logs and records) and schedule
    occurrences older than the retention, in small batches, until none are left."""
    if days is None:
        days = app.settings.retention_days
        if days <= 0:
            raise InvalidInputError(
                "days", "retention_days is 0 (keep everything): pass --days N to prune"
            )
    before = app.store.now() - timedelta(days=days)
    totals = dict.fromkeys(("runs", "attempts", "history", "logs", "records", "occurrences"), 0)
    batches = 0
    while True:
        pruned = app.store.prune(before, batch=PRUNE_BATCH)
        batches += 1
        for name in totals:
            totals[name] += getattr(pruned, name)
        if pruned.total:
            errors.print(
                f"batch {batches}: {pruned.runs} runs, {pruned.occurrences} occurrences "
                f"(so far {totals['runs']} runs, {totals['occurrences']} occurrences)",
                highlight=False,
            )
        if not pruned.more or not pruned.total:
            break
    if as_json:
        print_json({"before": iso(before), "days": days, "batches": batches, **totals})
        return
    console.print(
        f"pruned {totals['runs']} runs ({totals['attempts']} attempts, {totals['history']} "
        f"status changes, {totals['logs']} log lines, {totals['records']} records) and "
        f"{totals['occurrences']} occurrences from before {iso(before)}",
        highlight=False,
    )


def register(cli: click.Group) -> None:
    cli.add_command(db)
