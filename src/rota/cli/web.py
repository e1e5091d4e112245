"""``rota web``: the HTTP API (and, later, the dashboard) alone, for machines that serve
requests while workers and schedulers run elsewhere against the same database."""

from __future__ import annotations

import click

from rota.cli.main import App, handle_errors, pass_app
from rota.cli.output import console, errors


@click.command("web")
@click.option("--host", help="Address to listen on (default: the host setting, 127.0.0.1).")
@click.option(
    "--port", type=click.IntRange(0, 65535), help="Port to listen on (default: the port setting)."
)
@pass_app
@handle_errors
def web(app: App, host: str | None, port: int | None) -> None:
    """Serve the HTTP API (/api/v1, /healthz, /metrics, webhooks) until stopped.

    It neither migrates nor loads jobs: run `rota db upgrade` once, and `rota jobs sync` or
    `rota up` where the project lives."""
    from rota.api.server import bind, serve_forever

    host = host or app.settings.host
    port = app.settings.port if port is None else port
    app.store.count_runs()  # no schema: exit 4 now, not at the first request
    try:
        sock = bind(host, port)
    except OSError as exc:
        errors.print(f"[red]error:[/] cannot listen on {host}:{port}: {exc.strerror or exc}")
        raise SystemExit(2) from None
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{sock.getsockname()[1]}"
    console.print(f"database:  {app.store.url}", highlight=False)
    console.print(f"api:       {base}/api/v1 (docs: {base}/api/docs)", highlight=False)
    console.print(f"health:    {base}/healthz", highlight=False)
    serve_forever(app.store, app.settings, sock)


def register(cli: click.Group) -> None:
    cli.add_command(web)
