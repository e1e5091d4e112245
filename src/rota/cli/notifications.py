"""``rota notifications list``: what was notified to whom, and how each delivery went."""

from __future__ import annotations

import click
from rich.table import Table

from rota.cli.main import App, handle_errors, pass_app
from rota.cli.output import console, print_json
from rota.data.sources.http_source import safe_url
from rota.model.notify import Channel, Notification, NotificationStatus
from rota.services import notifications as notification_service


@click.group("notifications")
def notifications() -> None:
    """Notifications of job events by e-mail and webhook (``notify:`` in a job)."""


def _when(notification: Notification) -> str:
    moment = notification.delivered_at or notification.next_attempt_at
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


def _target(notification: Notification) -> str:
    """Webhook URLs without their query string (it may carry a token)."""
    if notification.channel is Channel.WEBHOOK:
        return safe_url(notification.target)
    return notification.target


@notifications.command("list")
@click.option(
    "--status",
    type=click.Choice([s.value for s in NotificationStatus]),
    help="Only pending, delivered or failed (given up) ones.",
)
@click.option("--limit", type=int, default=100, show_default=True, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_(app: App, status: str | None, limit: int, as_json: bool) -> None:
    """Newest first: event, recipient, status, attempts, and the last error."""
    found = notification_service.list_notifications(app.store, status=status, limit=limit)
    if as_json:
        print_json([n.to_json() for n in found])
        return
    table = Table(
        "id", "job", "run", "event", "to", "status", "tries", "at", "last error", box=None
    )
    for n in found:
        table.add_row(
            str(n.id),
            n.job,
            str(n.run_id) if n.run_id is not None else "-",
            n.event.value,
            _target(n),
            n.status.value,
            str(n.attempts),
            _when(n),
            n.last_error or "",
        )
    console.print(table)
    console.print(f"{len(found)} notifications", highlight=False)


def register(cli: click.Group) -> None:
    cli.add_command(notifications)
