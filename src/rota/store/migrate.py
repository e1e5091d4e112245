"""Alembic, configured in code so that ``rota db upgrade`` needs no ``alembic.ini``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Engine

from rota.model.errors import StoreUnavailableError

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision``; a database migrated by a newer Rota is refused with a message
    that says so (during a rolling upgrade an older process must not guess at a schema it does
    not know)."""
    config = alembic_config(engine)
    try:
        command.upgrade(config, revision)
    except CommandError as exc:
        if "Can't locate revision" not in str(exc):
            raise
        known = ScriptDirectory.from_config(config).get_current_head()
        raise StoreUnavailableError(
            f"the database's schema is newer than this Rota knows (it knows up to revision "
            f"{known}): upgrade Rota on this machine before starting it ({exc})"
        ) from None


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)
