"""``rota up``, ``rota worker`` and ``rota scheduler``: the long-running processes.

Signals: the first SIGTERM or Ctrl-C stops claiming and lets running runs finish within
``shutdown_grace_seconds`` (then they are released to other workers); a second one exits at
once, leaving the runs to the reaper.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

import click

from rota.cli.errors import ExitCode
from rota.cli.main import App, handle_errors, pass_app
from rota.cli.output import console, errors
from rota.engine.scheduler import Scheduler
from rota.engine.worker import Worker
from rota.secrets.box import self_test
from rota.services.jobs import sync_project


def _prepare(app: App) -> None:
    app.store.upgrade()
    # Refuse to start when the key does not open the stored secrets: every run needing one
    # would fail later, one by one, at 3 a.m.
    self_test(app.store, app.settings)
    report = sync_project(
        app.store,
        app.settings.project,
        default_tz=app.settings.timezone,
        resources=app.settings.resource_definitions,
    )
    changed = [r for r in report.results if r.change != "unchanged"]
    console.print(
        f"{len(report.results)} jobs loaded from {app.settings.project / 'jobs'}"
        + (f" ({len(changed)} new or changed)" if changed else ""),
        highlight=False,
    )
    for error in report.errors:
        errors.print(f"[red]invalid:[/] {error}", highlight=False)


def _run_worker(worker: Worker, scheduler: Scheduler | None = None) -> None:
    signals = {"count": 0}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        signals["count"] += 1
        if signals["count"] == 1:
            errors.print(
                f"stopping: no new runs; running ones get {worker.settings.shutdown_grace_seconds:g}s "
                "(again to quit now)"
            )
            if scheduler is not None:
                scheduler.stop()
            worker.stop()
        else:
            os._exit(130)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = None
    if scheduler is not None:

        def schedule() -> None:
            scheduler.run()
            if scheduler.failure is not None:
                worker.stop()  # one process: when one half gives up, the whole exits

        thread = threading.Thread(target=schedule, name="rota-scheduler", daemon=True)
        thread.start()
    try:
        worker.run()
    finally:
        if scheduler is not None and thread is not None:
            scheduler.stop()
            thread.join(timeout=5)
    _exit_if_gave_up(worker.failure or (scheduler.failure if scheduler else None))


def _exit_if_gave_up(failure: str | None) -> None:
    """Exit 4 (database unavailable) for the supervisor, after a clean stop otherwise."""
    if failure is not None:
        errors.print(f"[red]error:[/] {failure}; exiting for the supervisor to restart")
        raise SystemExit(ExitCode.STORE_UNAVAILABLE)


@click.command("scheduler")
@pass_app
@handle_errors
def scheduler(app: App) -> None:
    """Turn due schedule fire times into runs until stopped. Any number may run at once."""
    _prepare(app)
    s = Scheduler(app.store, app.settings)
    console.print(
        f"scheduler {s.id}: {len(app.store.list_schedules())} schedules, database {app.store.url}",
        highlight=False,
    )

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if s.stopped:
            os._exit(130)
        errors.print("stopping scheduler (again to quit now)")
        s.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    s.run()
    _exit_if_gave_up(s.failure)


@click.command("worker")
@click.option(
    "--concurrency", type=click.IntRange(1, 256), help="Runs at once (default: settings)."
)
@pass_app
@handle_errors
def worker(app: App, concurrency: int | None) -> None:
    """Claim and run queued runs until stopped. Run as many as you like against one database."""
    _prepare(app)
    w = Worker(app.store, app.settings, concurrency=concurrency)
    console.print(
        f"worker {w.id}: concurrency {w.concurrency}, database {app.store.url}", highlight=False
    )
    _run_worker(w)


@click.command("up")
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port to listen on (default 8080).")
@click.option(
    "--concurrency", type=click.IntRange(1, 256), help="Worker slots (default: settings)."
)
@pass_app
@handle_errors
def up(app: App, host: str | None, port: int | None, concurrency: int | None) -> None:
    """Everything in one process: migrate, load the project, serve the API (with /healthz and
    webhooks), run a worker and the scheduler."""
    from rota.api.server import start as start_api  # FastAPI loads only for servers

    _prepare(app)
    host = host or app.settings.host
    port = app.settings.port if port is None else port
    try:
        server = start_api(app.store, app.settings, host, port)
    except OSError as exc:
        errors.print(f"[red]error:[/] cannot listen on {host}:{port}: {exc.strerror or exc}")
        raise SystemExit(2) from None
    w = Worker(app.store, app.settings, concurrency=concurrency)
    s = Scheduler(app.store, app.settings)
    console.print(f"database:  {app.store.url}", highlight=False)
    base = f"http://{_url_host(host)}:{server.port}"
    console.print(f"dashboard: {base}/", highlight=False)
    console.print(f"api:       {base}/api/v1 (docs: {base}/api/docs)", highlight=False)
    if not app.store.has_admin():
        console.print(
            "           nothing but /healthz answers until the first administrator exists:\n"
            "           ROTA_ADMIN_PASSWORD=... rota users create-admin NAME",
            highlight=False,
        )
    console.print(f"health:    {base}/healthz", highlight=False)
    console.print(f"webhooks:  {base}/hooks/ID (rota hooks list)", highlight=False)
    console.print(f"worker:    {w.id} (concurrency {w.concurrency})", highlight=False)
    console.print(
        f"scheduler: {len(app.store.list_schedules())} schedules (rota schedules list)",
        highlight=False,
    )
    console.print(
        "run a job from another terminal:  rota run rates.import -p date=2026-11-20 --wait",
        highlight=False,
    )
    try:
        _run_worker(w, s)
    finally:
        server.shutdown()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def register(cli: click.Group) -> None:
    cli.add_command(worker)
    cli.add_command(scheduler)
    cli.add_command(up)
