"""``rota db``: schema migrations."""

from __future__ import annotations

import click

from rota.cli.main import App, handle_errors, pass_app
from rota.cli.output import console


@click.group("db")
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_app
@handle_errors
def upgrade(app: App) -> None:
    """Apply migrations up to the newest schema (safe to repeat)."""
    app.store.upgrade()
    console.print(f"database is up to date: {app.store.url}", highlight=False)


def register(cli: click.Group) -> None:
    cli.add_command(db)
