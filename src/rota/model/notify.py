"""Notification rules of a job or process, and the notifications they produce.

A rule says which events concern whom::

    notify:
      - on: [failed, partial, overdue, missed]
        email: [ops@example.org]
      - on: completed
        webhook: https://hooks.example.org/rota
        secret: rota-hooks

Every (event, recipient) pair becomes one :class:`Notification` in the store's outbox, written
in the transaction that records the event, so an event is notified once whatever dies
afterwards; a worker's notifier delivers it (see :mod:`rota.engine.notifier`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from rota.model.errors import InvalidInputError
from rota.model.params import JsonValue
from rota.model.secrets import check_secret_name

DEFAULT_WEBHOOK_SECRET = "notifications.webhook"
"""The secret that signs webhooks whose rule names none (``rota secrets set`` it)."""
MAX_URL = 500
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
"""A plain mailbox (no display name, no comments, no spaces): nothing that could add a header
or a second recipient when written into a message."""
RULE_KEYS = ("on", "email", "webhook", "secret")


class NotifyEvent(StrEnum):
    FAILED = "failed"
    PARTIAL = "partial"
    COMPLETED = "completed"
    CANCELED = "canceled"
    OVERDUE = "overdue"
    """Still running past the job's ``expected_runtime``."""
    MISSED = "missed"
    """A schedule fire time passed without a run (the scheduler was down; ``missed: skip``)."""
    SKIPPED = "skipped"
    """A fire time was skipped: a run was still unfinished (overlap) or a blackout held."""


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class NotificationStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    """Given up after the last attempt."""


def check_address(value: object, field: str) -> str:
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value) or len(value) > 254:
        raise InvalidInputError(field, f"{value!r} is not an e-mail address like ops@example.org")
    return value


def check_webhook_url(value: object, field: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_URL or any(c.isspace() for c in value):
        raise InvalidInputError(field, "must be an http or https URL without spaces")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise InvalidInputError(field, f"is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(field, f"{value!r} is not an http or https URL with a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInputError(field, "must not hold a user name or password")
    return value


@dataclass(frozen=True, kw_only=True)
class NotifyRule:
    events: tuple[NotifyEvent, ...]
    email: tuple[str, ...] = ()
    webhook: str | None = None
    secret: str | None = None
    """Name of the secret that signs the webhook (default :data:`DEFAULT_WEBHOOK_SECRET`)."""

    def targets(self) -> list[tuple[Channel, str]]:
        out = [(Channel.EMAIL, address) for address in self.email]
        if self.webhook is not None:
            out.append((Channel.WEBHOOK, self.webhook))
        return out

    def to_json(self) -> dict[str, JsonValue]:
        body: dict[str, JsonValue] = {"on": [e.value for e in self.events]}
        if self.email:
            body["email"] = list(self.email)
        if self.webhook is not None:
            body["webhook"] = self.webhook
        if self.secret is not None:
            body["secret"] = self.secret
        return body

    @classmethod
    def parse(cls, value: object, field: str) -> NotifyRule:
        """A rule from its YAML/JSON mapping; errors name ``field.key`` and the reason."""
        if isinstance(value, NotifyRule):
            return value
        if not isinstance(value, Mapping):
            raise InvalidInputError(field, "must be a mapping: {on: [failed], email: [...]}")
        for key in value:
            if key not in RULE_KEYS:
                raise InvalidInputError(
                    f"{field}.{key}", f"is not a notify option ({', '.join(RULE_KEYS)})"
                )
        events = _events(value.get("on"), f"{field}.on")
        email = value.get("email", ())
        if isinstance(email, str):
            email = [email]
        if not isinstance(email, Sequence):
            raise InvalidInputError(f"{field}.email", "must be an address or a list of them")
        addresses = tuple(check_address(a, f"{field}.email[{i}]") for i, a in enumerate(email))
        webhook = value.get("webhook")
        if webhook is not None:
            check_webhook_url(webhook, f"{field}.webhook")
        secret = value.get("secret")
        if secret is not None:
            if webhook is None:
                raise InvalidInputError(f"{field}.secret", "signs a webhook: give webhook too")
            check_secret_name(secret, f"{field}.secret")
        if not addresses and webhook is None:
            raise InvalidInputError(field, "names nobody: give email, webhook or both")
        return cls(events=events, email=addresses, webhook=webhook, secret=secret)


def _events(value: object, field: str) -> tuple[NotifyEvent, ...]:
    known = ", ".join(e.value for e in NotifyEvent)
    if value is None:
        raise InvalidInputError(field, f"is required: the events to notify ({known})")
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, Sequence) or not names:
        raise InvalidInputError(field, f"must name at least one event ({known})")
    events: list[NotifyEvent] = []
    for name in names:
        try:
            event = NotifyEvent(name)
        except ValueError:
            raise InvalidInputError(field, f"{name!r} is not an event ({known})") from None
        if event not in events:
            events.append(event)
    return tuple(events)


def parse_rules(value: object, field: str = "notify") -> tuple[NotifyRule, ...]:
    """``notify:`` of a job: a list of rules (or one rule); ``None`` for none."""
    if value is None:
        return ()
    items = [value] if isinstance(value, Mapping | NotifyRule) else value
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise InvalidInputError(field, "must be a list of rules: - {on: [failed], email: [...]}")
    return tuple(NotifyRule.parse(item, f"{field}[{i}]") for i, item in enumerate(items))


def rules_from_json(data: Any) -> tuple[NotifyRule, ...]:
    return parse_rules(data or None)


def recipients(
    rules: Sequence[NotifyRule], event: NotifyEvent
) -> list[tuple[Channel, str, str | None]]:
    """Who hears of ``event``: (channel, target, signing secret name), each once."""
    seen: dict[tuple[Channel, str], str | None] = {}
    for rule in rules:
        if event in rule.events:
            for channel, target in rule.targets():
                secret = rule.secret if channel is Channel.WEBHOOK else None
                seen.setdefault((channel, target), secret)
    return [(channel, target, secret) for (channel, target), secret in seen.items()]


@dataclass(frozen=True, kw_only=True)
class Notification:
    """One outbox row: one event for one recipient, and how its delivery went."""

    id: int
    event: NotifyEvent
    channel: Channel
    target: str
    job: str
    tenant: str
    run_id: int | None
    subject: str
    """``run:12`` or ``occurrence:SCHEDULE@TIME``: with event, channel and target, unique."""
    payload: dict[str, JsonValue]
    secret: str | None
    status: NotificationStatus
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime

    @property
    def message_id(self) -> str:
        """Stable across retries, so a receiver can drop a delivery it already has."""
        return f"rota-notification-{self.id}"

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "id": self.id,
            "event": self.event.value,
            "channel": self.channel.value,
            "target": self.target,
            "job": self.job,
            "tenant": self.tenant,
            "run_id": self.run_id,
            "subject": self.subject,
            "status": self.status.value,
            "attempts": self.attempts,
            "next_attempt_at": _iso(self.next_attempt_at),
            "last_error": self.last_error,
            "delivered_at": _iso(self.delivered_at),
            "created_at": _iso(self.created_at),
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
