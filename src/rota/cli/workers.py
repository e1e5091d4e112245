"""``rota workers list``: the registered workers, their state and the runs they hold."""

from __future__ import annotations

from datetime import datetime, timedelta

import click
from rich.table import Table

from rota.cli.main import App, handle_errors, pass_app
from rota.cli.output import console, duration_text, print_json
from rota.model.workers import WorkerInfo

STOPPED_SHOWN_FOR = timedelta(days=1)
"""Without ``--all``, a stopped worker is listed for a day after it stopped."""

STATE_STYLE = {"alive": "green", "stopped": "dim", "dead": "bold red"}


@click.group("workers")
def workers() -> None:
    """The workers registered in the database: alive, stopped or dead."""


def _shown(worker: WorkerInfo, now: datetime, everything: bool) -> bool:
    if everything or worker.stopped_at is None:
        return True
    return now - worker.stopped_at <= STOPPED_SHOWN_FOR


@workers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--all", "everything", is_flag=True, help="Also workers that stopped more than a day ago."
)
@pass_app
@handle_errors
def list_(app: App, as_json: bool, everything: bool) -> None:
    """Each worker's host, pid, version, state, start, last heartbeat and the runs it holds.

    A worker is dead when it did not stop but its last heartbeat is older than a lease
    (``lease_seconds``); the reaper recovers its runs."""
    now = app.store.now()
    listed = [
        w
        for w in app.store.list_workers(now, app.settings.lease_seconds)
        if _shown(w, now, everything)
    ]
    if as_json:
        print_json([w.to_json() for w in listed])
        return
    if not listed:
        console.print("no workers" + ("" if everything else " (--all shows older ones)"))
        return
    table = Table(box=None, header_style="bold")
    for column in ("id", "host", "pid", "version", "state", "started", "last heartbeat", "runs"):
        table.add_column(column)
    for w in listed:
        style = STATE_STYLE.get(w.state, "white")
        table.add_row(
            w.id,
            w.hostname,
            str(w.pid),
            w.version or "-",
            f"[{style}]{w.state}[/]",
            w.started_at.strftime("%Y-%m-%d %H:%M:%SZ"),
            f"{duration_text(max(0.0, (now - w.heartbeat_at).total_seconds()))} ago",
            ", ".join(str(r) for r in w.running) or "-",
        )
    console.print(table)


def register(cli: click.Group) -> None:
    cli.add_command(workers)
