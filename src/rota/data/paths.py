"""Where a data job may touch files: only inside the configured data folders (``[data] folders``).

A job definition is input, and a path in it must not become a way to read ``/etc/shadow`` or
to write next to the database. So a path is refused, with an :class:`InvalidInputError`
naming the field, when it is empty or holds a NUL byte, when any component is ``..`` (even
one that would land back inside a folder: such paths are never needed, and refusing them
keeps the rule easy to state), when it is absolute and outside every folder, and when it
resolves (symlinks followed) to a place outside every folder.

The returned path is the *resolved* one, so the file that is opened is the file that was
checked. A symlink swapped between this check and the ``open`` is not prevented; the folders
are trusted space, and whoever can write symlinks into them can already write the data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from rota.model.errors import InvalidInputError

# Both separators: a job file written on Windows may say ``..\x.csv``, and refusing a
# backslash ``..`` on POSIX too (where it would be an odd but harmless name) costs nothing.
_SEPARATORS = re.compile(r"[/\\]")


def resolve_data_path(path: str, folders: Sequence[Path], field: str = "source.path") -> Path:
    """The absolute, resolved file ``path`` names inside one of the data ``folders``.

    A relative path is tried against each folder in order and the first one where it exists
    wins. When it exists in none, the candidate in the *first* folder is returned rather than
    an error: a source then fails to open with "not found" naming the real place looked at,
    and a file target can create the file there. Every candidate is checked, existing or not,
    so a dangling symlink that points out of the folders is refused too.

    An absolute path must lie inside a folder both as written and once resolved.
    """
    if not isinstance(path, str) or not path.strip():
        raise InvalidInputError(field, "is empty")
    if "\x00" in path:
        raise InvalidInputError(field, "contains a NUL byte")
    if ".." in _SEPARATORS.split(path):
        raise InvalidInputError(field, f"{path!r}: '..' is not allowed in data paths")
    roots = _roots(folders, field)
    candidate = Path(path)
    if candidate.is_absolute():
        if not any(_inside(candidate, w) or _inside(candidate, r) for w, r in roots):
            raise InvalidInputError(field, f"{path!r} is outside the data folders")
        resolved = candidate.resolve()
        if not any(_inside(resolved, real) for _, real in roots):
            raise InvalidInputError(field, f"{path!r} leads outside the data folders")
        return resolved
    first: Path | None = None
    for written, _ in roots:
        resolved = (written / candidate).resolve()
        if not any(_inside(resolved, real) for _, real in roots):
            raise InvalidInputError(
                field, f"{path!r} leads outside the data folders (through a symlink)"
            )
        if resolved.exists():
            return resolved
        if first is None:
            first = resolved
    assert first is not None  # _roots refuses an empty folder list
    return first


def _roots(folders: Sequence[Path], field: str) -> list[tuple[Path, Path]]:
    """Each folder as written and resolved: a folder may itself be reached through a symlink
    (``/data`` -> ``/mnt/disk1/data``), and paths inside it are fine either way."""
    if not folders:
        raise InvalidInputError(field, "no data folders are configured ([data] folders)")
    roots: list[tuple[Path, Path]] = []
    for given in folders:
        folder = Path(given)
        if not folder.is_absolute():
            # A relative folder would depend on the process's working directory: a caller bug.
            raise ValueError(f"data folder {str(folder)!r} must be absolute")
        roots.append((folder, folder.resolve()))
    return roots


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)
