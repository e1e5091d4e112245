"""Facts every benchmark prints under its table: what was measured, and on what."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
from pgdb import libpq_url
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent


def source_state() -> str:
    """The commit measured, and whether src/ had uncommitted changes (read-only git calls)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("--no-optional-locks", "status", "--porcelain", "--untracked-files=all", "src")
    except OSError:
        return "unknown"
    return f"{commit or 'unknown'}{' + uncommitted changes in src/' if dirty else ''}"


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def server_settings(server_url: str, names: tuple[str, ...]) -> dict[str, str]:
    """``SHOW name`` for each of ``names`` on the PostgreSQL server."""
    found: dict[str, str] = {}
    with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
        for name in names:
            row = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
            found[name] = str(row[0]) if row else "?"
    return found
