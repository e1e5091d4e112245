"""``rota secrets set|list|delete``: the value is read from stdin or a prompt, never from an
argument (arguments end up in shell history and in every process listing)."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from rota.cli.main import App, handle_errors, pass_app
from rota.cli.output import console, print_json
from rota.model.errors import InvalidInputError
from rota.secrets.box import new_key
from rota.services import secrets as secret_service


@click.group("secrets")
def secrets() -> None:
    """Secrets for connections, HTTP headers and shell environments (``${secret:NAME}``)."""


def _read_value(name: str) -> str:
    if sys.stdin.isatty():
        value = click.prompt(f"value of {name}", hide_input=True, confirmation_prompt=True)
        return str(value)
    value = sys.stdin.read()
    # One trailing newline is how `echo` and files end; anything else is part of the value.
    if value.endswith("\r\n"):
        return value[:-2]
    return value[:-1] if value.endswith("\n") else value


@secrets.command("set", context_settings={"allow_extra_args": True})
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the secret's description as JSON.")
@pass_app
@handle_errors
def set_(app: App, name: str, as_json: bool) -> None:
    """Create or rotate NAME; the value comes from stdin (or a prompt), never an argument."""
    if click.get_current_context().args:  # refused without repeating it: likely the value
        raise InvalidInputError(
            "value",
            "is read from stdin or a prompt, never from an argument (arguments stay in the "
            "shell history and in process listings); nothing was saved",
        )
    stored = secret_service.set_secret(app.store, app.settings, name, _read_value(name), app.actor)
    if as_json:
        print_json(stored.describe())
    else:
        console.print(f"secret {stored.name} saved (version {stored.version})", highlight=False)


@secrets.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_(app: App, as_json: bool) -> None:
    """Names, versions, who changed them and when — never values."""
    stored = secret_service.list_secrets(app.store)
    if as_json:
        print_json([s.describe() for s in stored])
        return
    table = Table("name", "version", "updated", "by", box=None)
    for secret in stored:
        table.add_row(
            secret.name,
            str(secret.version),
            secret.updated_at.strftime("%Y-%m-%d %H:%M:%SZ"),
            secret.updated_by or "-",
        )
    console.print(table)


@secrets.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
@handle_errors
def delete(app: App, name: str, yes: bool) -> None:
    """Delete NAME; jobs that reference it fail their pre-flight check until it is set again."""
    if not yes and sys.stdin.isatty():
        click.confirm(f"delete secret {name}?", abort=True)
    elif not yes:
        raise InvalidInputError(
            "--yes", "deleting a secret needs --yes when not asked on a terminal"
        )
    secret_service.delete_secret(app.store, name)
    console.print(f"secret {name} deleted", highlight=False)


@secrets.command("new-key")
def new_key_command() -> None:
    """Print a new random key for ROTA_SECRET_KEY (it is not stored anywhere)."""
    click.echo(new_key())


def register(cli: click.Group) -> None:
    cli.add_command(secrets)
