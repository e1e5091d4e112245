"""``rota``: the command line. Every command maps domain errors to exit codes in one place."""

from __future__ import annotations

import functools
import getpass
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from rota.auth.roles import Principal
from rota.cli.errors import ExitCode, exit_code_for_error
from rota.cli.output import errors
from rota.model.errors import InvalidInputError, RotaError
from rota.settings import Settings, load_settings
from rota.store import Store, open_store

F = TypeVar("F", bound=Callable[..., Any])


class App:
    """What every command needs: settings, and a store opened on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: Store | None = None
        if settings.outgoing_allow:  # else the guard's strict default; httpx loads when used
            from rota.net import guard

            guard.configure(settings.outgoing_policy)  # for `rota jobs check`'s probes

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(
                self.settings.resolved_database_url,
                sqlite_synchronous=self.settings.sqlite_synchronous,
            )
            self._store.service_account = self.settings.service_account
        return self._store

    @property
    def actor(self) -> str:
        """Who is acting: the operating-system user until accounts arrive with the API."""
        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return "unknown"

    @property
    def principal(self) -> Principal:
        """The CLI holds the database itself, so it may do everything; the audit log names
        the operating-system user."""
        return Principal(name=self.actor, kind="system", source="cli")

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


pass_app = click.make_pass_decorator(App)


def handle_errors(fn: F) -> F:
    """Turn a :class:`RotaError` into a one-line message and its documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RotaError as exc:
            errors.print(f"[red]error:[/] {exc}", highlight=False, markup=True)
            sys.exit(exit_code_for_error(exc))

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="ROTA_PROJECT",
    help="Project folder (default: current folder).",
)
@click.option(
    "--database-url",
    envvar="ROTA_DATABASE_URL",
    help="Database URL (default: SQLite in the project).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log engine activity to stderr.")
@click.version_option(package_name="rota")
@click.pass_context
def cli(ctx: click.Context, project: Path | None, database_url: str | None, verbose: bool) -> None:
    """Rota: jobs, runs and their records, durably."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings(project, database_url=database_url)
    except InvalidInputError as exc:
        errors.print(f"[red]error:[/] setting {exc}", highlight=False)
        sys.exit(ExitCode.BAD_INPUT)
    app = App(settings)
    ctx.obj = app
    ctx.call_on_close(app.close)


def commands() -> click.Group:
    """The ``rota`` group with every command registered (also for in-process callers)."""
    from rota.cli import (
        access,
        db,
        flow,
        init,
        jobs,
        notifications,
        runs,
        schedules,
        secrets,
        serve,
        web,
        workers,
    )

    for module in (
        access,
        db,
        flow,
        init,
        jobs,
        notifications,
        runs,
        schedules,
        secrets,
        serve,
        web,
        workers,
    ):
        module.register(cli)
    return cli


def main() -> None:
    commands()()


if __name__ == "__main__":
    main()
