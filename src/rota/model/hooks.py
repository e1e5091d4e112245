"""Webhook triggers: ``POST /hooks/{id}`` starts a job, authenticated by a per-hook secret.

The store keeps the secrets encrypted (like every secret); the previous secret stays valid for
a while after a rotation so that the sender can be switched over without losing deliveries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from rota.model.errors import InvalidInputError
from rota.model.params import JsonValue
from rota.model.runs import iso

HOOK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$")
MAX_BODY = 1024 * 1024
"""Request bodies above 1 MiB are refused before they are read."""


def check_hook_id(hook_id: str) -> str:
    if not HOOK_ID.fullmatch(hook_id):
        raise InvalidInputError("id", f"{hook_id!r} must be 3-64 letters, digits, '_' or '-'")
    return hook_id


@dataclass(frozen=True, kw_only=True)
class Hook:
    id: str
    tenant: str
    job: str
    description: str
    params: dict[str, JsonValue]
    """Job parameters; may refer to the request: ``{{ payload.member.id }}``,
    ``{{ headers.x-source }}`` (lower-case names), ``{{ delivery_id }}``."""
    secret: str
    """Ciphertext."""
    previous_secret: str | None
    previous_expires_at: datetime | None
    active: bool
    created_at: datetime
    created_by: str | None
    rotated_at: datetime | None

    def to_json(self) -> dict[str, JsonValue]:
        """Never the secrets, not even encrypted."""
        return {
            "id": self.id,
            "tenant": self.tenant,
            "job": self.job,
            "description": self.description,
            "params": self.params,
            "active": self.active,
            "path": f"/hooks/{self.id}",
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "rotated_at": iso(self.rotated_at),
            "previous_secret_valid_until": iso(self.previous_expires_at),
        }
