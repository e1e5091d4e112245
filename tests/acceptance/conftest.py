"""Fixtures of the acceptance tests; the harness itself is in ``harness.py``.

Every test gets its own copy of the example project and its own database; the fixtures stop
every process a test started (SIGTERM, then SIGKILL) whatever the test did.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.acceptance.harness import MakeRota, Rota, copy_examples


@pytest.fixture
def make_rota(tmp_path: Path) -> Iterator[MakeRota]:
    """Build a :class:`Rota` on a fresh copy of examples/ (and SQLite in ``tmp_path``)."""
    made: list[Rota] = []

    def make(database_url: str | None = None, env: dict[str, str] | None = None) -> Rota:
        root = tmp_path / f"rota{len(made) + 1}"
        root.mkdir()
        logs = root / "logs"
        logs.mkdir()
        rota = Rota(
            project=copy_examples(root / "project"),
            database_url=database_url or f"sqlite:///{root}/rota.db",
            logs=logs,
            extra_env=dict(env or {}),
        )
        made.append(rota)
        return rota

    yield make
    errors: list[BaseException] = []
    for rota in made:
        try:
            rota.close()
        except Exception as exc:  # close them all, then report
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def rota(make_rota: MakeRota) -> Rota:
    """A fresh installation: the example project and an empty (not migrated) database."""
    return make_rota()


@pytest.fixture(scope="session")
def synced_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated and synced with the example jobs once per session, through
    the CLI; tests copy it instead of paying for ``db upgrade`` and ``jobs sync`` each time."""
    root = tmp_path_factory.mktemp("template")
    template = Rota(
        project=copy_examples(root / "project"),
        database_url=f"sqlite:///{root}/rota.db",
        logs=root,
    )
    try:
        template.ok("db", "upgrade")
        template.ok("jobs", "sync")
    finally:
        template.close()
    return root / "rota.db"


@pytest.fixture
def synced_rota(make_rota: MakeRota, synced_template: Path) -> Rota:
    """The example project with its own copy of a migrated database that knows its jobs."""
    rota = make_rota()
    database = Path(rota.database_url.removeprefix("sqlite:///"))
    shutil.copyfile(synced_template, database)
    wal = synced_template.with_name(synced_template.name + "-wal")
    if wal.exists():  # normally checkpointed away when the last connection closed
        shutil.copyfile(wal, database.with_name(database.name + "-wal"))
    return rota
