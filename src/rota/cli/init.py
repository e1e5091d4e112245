"""``rota init [FOLDER]``: create a project from the template files of ``rota.templates``.

Nothing is ever overwritten: every place the template would write is checked first, files are
created exclusively (``x`` mode), and if writing fails half-way what was written is removed.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

import click
from click.core import ParameterSource

from rota.cli.main import handle_errors
from rota.cli.output import console, print_json
from rota.model.errors import InvalidInputError

TEMPLATE = "project"
RENAMED = {"gitignore": ".gitignore"}
"""Template files stored under another name (a ``.gitignore`` in the package would be read as
ignore rules by the tools that build it)."""
DATABASE = PurePosixPath("data/local.db")
SCHEMA = PurePosixPath("data/schema.sql")
"""``data/local.db`` is created with this schema, so the data job works at once."""
MARKERS = ("rota.toml", "jobs")
"""A folder with either of these already holds a project."""
SHOWN = 5
"""At most this many conflicting files are named."""
NEXT_STEPS = (
    "rota db upgrade",
    "rota jobs sync",
    "rota jobs check",
    "rota up",
    "rota run hello.world --wait",
)


def template_files() -> dict[PurePosixPath, Traversable]:
    """The template's files by their path in the new project."""
    root = files("rota.templates").joinpath(TEMPLATE)
    found: dict[PurePosixPath, Traversable] = {}

    def walk(folder: Traversable, prefix: PurePosixPath) -> None:
        for entry in folder.iterdir():
            if entry.name == "__pycache__" or entry.name.endswith(".pyc"):
                continue
            if entry.is_dir():
                walk(entry, prefix / entry.name)
            else:
                found[prefix / RENAMED.get(entry.name, entry.name)] = entry

    walk(root, PurePosixPath())
    return dict(sorted(found.items()))


def planned_files() -> list[PurePosixPath]:
    """Every file ``rota init`` writes, relative to the project folder."""
    return sorted([*template_files(), DATABASE])


def conflicts(folder: Path) -> list[str]:
    """What in ``folder`` stops ``rota init``: a project's ``rota.toml`` or ``jobs/``, a file it
    would write, or a file where it needs a folder. Empty for a missing or an empty folder."""
    if not folder.exists():
        return []
    found = [
        marker + ("/" if (folder / marker).is_dir() else "")
        for marker in MARKERS
        if os.path.lexists(folder / marker)
    ]
    for relative in planned_files():
        if relative.parts[0] in MARKERS and any(f.rstrip("/") == relative.parts[0] for f in found):
            continue  # already named
        for depth in range(1, len(relative.parts)):
            part = folder.joinpath(*relative.parts[:depth])
            if os.path.lexists(part) and not part.is_dir():
                found.append(f"{PurePosixPath(*relative.parts[:depth])} (not a folder)")
                break
        else:
            if os.path.lexists(folder / relative):
                found.append(str(relative))
    return list(dict.fromkeys(found))


def create_project(folder: Path) -> list[PurePosixPath]:
    """Write a new project into ``folder`` (created if missing); return the files written.

    Raises :class:`InvalidInputError` and writes nothing when ``folder`` is not a folder or
    already holds a project or any file the template would write.
    """
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError("folder", f"{folder} is not a folder")
    found = conflicts(folder)
    if found:
        project = [f for f in found if f.rstrip("/") in MARKERS]
        named = ", ".join((project or found)[:SHOWN])
        if not project and len(found) > SHOWN:
            named += f" and {len(found) - SHOWN} more"
        what = "a project" if project else "files rota init would write"
        raise InvalidInputError(
            "folder",
            f"{folder} already has {what} ({named}); rota init never overwrites anything, "
            "so nothing was written",
        )
    created: list[Path] = []
    try:
        for path in _missing_folders(folder):
            path.mkdir()
            created.append(path)
        written: list[PurePosixPath] = []
        for relative, source in template_files().items():
            target = folder / relative
            for parent in _missing_folders(target.parent):
                parent.mkdir()
                created.append(parent)
            with target.open("xb") as handle:
                created.append(target)
                handle.write(source.read_bytes())
            written.append(relative)
        _create_database(folder, created)
        written.append(DATABASE)
    except OSError as exc:
        _remove(created)
        where = exc.filename or folder
        raise InvalidInputError("folder", f"cannot write {where}: {exc.strerror or exc}") from None
    return sorted(written)


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and its missing parents, outermost first (none when it exists)."""
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    return list(reversed(missing))


def _create_database(folder: Path, created: list[Path]) -> None:
    database = folder / DATABASE
    with database.open("xb"):
        created.append(database)  # an empty file is an empty SQLite database
    schema = (folder / SCHEMA).read_text(encoding="utf-8")
    try:
        with contextlib.closing(sqlite3.connect(database)) as db:
            db.executescript(schema)
    except sqlite3.Error as exc:
        raise OSError(f"{DATABASE}: {exc}") from exc
    for suffix in ("-wal", "-shm", "-journal"):
        leftover = database.with_name(database.name + suffix)
        if leftover.exists():
            created.append(leftover)


def _remove(created: list[Path]) -> None:
    """Undo a half-written project: files, then the folders made for them (innermost first)."""
    for path in reversed(created):
        with contextlib.suppress(OSError):
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink()


def _shown(folder: Path) -> str:
    """The folder as the user would type it: relative to the current folder when inside it."""
    with contextlib.suppress(ValueError):
        relative = folder.relative_to(Path.cwd())
        return str(relative) if relative.parts else "."
    return str(folder)


@click.command("init")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the files created as JSON.")
@handle_errors
def init(folder: Path | None, as_json: bool) -> None:
    """Create a project in FOLDER (default: --project, else the current folder).

    Writes rota.toml, three example jobs in jobs/, their data files, data/local.db, a README
    and a .gitignore; refuses (exit 2) a folder that already has any of them.
    """
    if folder is None:
        parent = click.get_current_context().find_root()
        given = parent.get_parameter_source("project") is ParameterSource.COMMANDLINE
        folder = Path(parent.params["project"]) if given else Path.cwd()
    folder = Path(os.path.abspath(folder))
    written = create_project(folder)
    if as_json:
        print_json({"project": str(folder), "files": [str(f) for f in written]})
        return
    shown = _shown(folder)
    console.print(f"created a Rota project in {shown}:", highlight=False, markup=False)
    for relative in written:
        console.print(f"  {relative}", highlight=False, markup=False)
    console.print("\nnext steps (README.md says more):", highlight=False)
    steps = ([f"cd {shown}"] if shown != "." else []) + list(NEXT_STEPS)
    for step in steps:
        console.print(f"  {step}", highlight=False, markup=False)
    console.print(
        "  (rota up runs a worker and the scheduler; run the last command in another terminal)",
        highlight=False,
    )
    elsewhere = os.environ.get("ROTA_PROJECT")
    if elsewhere and Path(elsewhere).resolve() != folder.resolve():
        console.print(
            f"note: ROTA_PROJECT is set to {elsewhere}: unset it, or rota works on that folder "
            "instead of the new one",
            highlight=False,
            markup=False,
        )


def register(cli: click.Group) -> None:
    cli.add_command(init)
