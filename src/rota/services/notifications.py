"""Notifications through every face: what was sent to whom, and how delivery went."""

from __future__ import annotations

from rota.model.errors import InvalidInputError
from rota.model.notify import Notification, NotificationStatus
from rota.store.base import Store

MAX_LIMIT = 10_000


def list_notifications(
    store: Store, *, status: str | None = None, limit: int = 100
) -> list[Notification]:
    """Newest first; ``status`` is ``pending``, ``delivered`` or ``failed`` (given up)."""
    wanted = None
    if status is not None:
        try:
            wanted = NotificationStatus(status)
        except ValueError:
            known = ", ".join(s.value for s in NotificationStatus)
            raise InvalidInputError("status", f"{status!r} is not one of {known}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError("limit", f"must be from 1 to {MAX_LIMIT}")
    return store.list_notifications(wanted, limit)
