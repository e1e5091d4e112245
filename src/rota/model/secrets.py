"""Secrets as the store keeps them: a name, a version and ciphertext, never a value."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from rota.model.errors import InvalidInputError
from rota.model.params import JsonValue
from rota.model.runs import iso

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")


def check_secret_name(name: str, field: str = "name") -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInputError(
            field, f"{name!r} is not a secret name (a letter or _, then letters, digits, _ . -)"
        )
    return name


@dataclass(frozen=True, kw_only=True)
class StoredSecret:
    tenant: str
    name: str
    version: int
    """Counts changes: a run records the versions it used, so a rotation is traceable."""
    ciphertext: str
    created_at: datetime
    updated_at: datetime
    updated_by: str | None

    def describe(self) -> dict[str, JsonValue]:
        """What every face may show: everything but the ciphertext."""
        return {
            "name": self.name,
            "tenant": self.tenant,
            "version": self.version,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "updated_by": self.updated_by,
        }
