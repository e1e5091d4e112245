"""``rota up``, ``rota worker`` and ``rota scheduler``: the long-running processes.

Signals: the first SIGTERM or Ctrl-C stops claiming and lets running runs finish within
``shutdown_grace_seconds`` (then they are released to other workers); a second one exits at
once, leaving the runs to the reaper.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

import click

from rota.cli.main import App, handle_errors, pass_app
from rota.cli.output import console, errors
from rota.engine.scheduler import Scheduler
from rota.engine.worker import Worker
from rota.model.status import RunStatus
from rota.secrets.box import self_test
from rota.services.jobs import sync_project
from rota.store.base import Store


def _prepare(app: App) -> None:
    app.store.upgrade()
    # Refuse to start when the key does not open the stored secrets: every run needing one
    # would fail later, one by one, at 3 a.m.
    self_test(app.store, app.settings)
    report = sync_project(app.store, app.settings.project, default_tz=app.settings.timezone)
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
        thread = threading.Thread(target=scheduler.run, name="rota-scheduler", daemon=True)
        thread.start()
    try:
        worker.run()
    finally:
        if scheduler is not None and thread is not None:
            scheduler.stop()
            thread.join(timeout=5)


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


def _health_server(store: Store, host: str, port: int) -> ThreadingHTTPServer:
    """A minimal ``/healthz`` until the HTTP API arrives; answers from the store."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/healthz":
                self.send_error(404, "only /healthz is served by this version")
                return
            try:
                body, code = (
                    {"status": "ok", "queued": store.count_runs(status=RunStatus.QUEUED)},
                    200,
                )
            except Exception as exc:
                body, code = {"status": "unavailable", "error": str(exc)}, 503
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="rota-http", daemon=True).start()
    return server


@click.command("up")
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port to listen on (default 8080).")
@click.option(
    "--concurrency", type=click.IntRange(1, 256), help="Worker slots (default: settings)."
)
@pass_app
@handle_errors
def up(app: App, host: str | None, port: int | None, concurrency: int | None) -> None:
    """Everything in one process: migrate, load the project, serve /healthz, run a worker and
    the scheduler."""
    _prepare(app)
    host = host or app.settings.host
    port = app.settings.port if port is None else port
    try:
        server = _health_server(app.store, host, port)
    except OSError as exc:
        errors.print(f"[red]error:[/] cannot listen on {host}:{port}: {exc.strerror}")
        raise SystemExit(2) from None
    w = Worker(app.store, app.settings, concurrency=concurrency)
    s = Scheduler(app.store, app.settings)
    console.print(f"database:  {app.store.url}", highlight=False)
    console.print(f"health:    http://{host}:{server.server_address[1]}/healthz", highlight=False)
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


def register(cli: click.Group) -> None:
    cli.add_command(worker)
    cli.add_command(scheduler)
    cli.add_command(up)
