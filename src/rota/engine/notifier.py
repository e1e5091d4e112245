"""The notifier: delivers the store's outbox of notifications by e-mail and signed webhook.

Every worker runs one in a thread of its own (so a slow SMTP server never delays claiming
runs); several workers share the outbox through the store's claims. A failed delivery is
tried again after an exponential backoff, up to ``notify_max_attempts``, and every attempt's
outcome is recorded (``rota notifications list``).

Secrets: the SMTP password comes from the environment and the webhook signing secret from the
secret store; neither appears in a message, a log line or a recorded error. Webhook errors
show the URL without its query string (tokens live there often enough).
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import httpx2

from rota.data.sources.http_source import safe_url
from rota.engine.messages import email_text, subject_line
from rota.hooks.signatures import sign_standard
from rota.model.errors import NotFoundError, RotaError
from rota.model.notify import DEFAULT_WEBHOOK_SECRET, Channel, Notification
from rota.net.guard import guarded_client
from rota.secrets.box import SecretBox
from rota.settings import Settings
from rota.store.base import Store

log = logging.getLogger(__name__)

SWEEP_SECONDS = 1.0
"""How often a worker's notifier looks for due notifications."""
BATCH = 20
LEASE_SECONDS = 120.0
"""A claimed notification is due again after this long unless its outcome was recorded."""
BACKOFF_SECONDS = 30.0
BACKOFF_MAX_SECONDS = 3600.0
WEBHOOK_TIMEOUT = 10.0
USER_AGENT = "rota-notifications"


class DeliveryError(Exception):
    """One attempt failed; the message is recorded, so it never holds a secret."""


def backoff(
    attempt: int, base: float = BACKOFF_SECONDS, most: float = BACKOFF_MAX_SECONDS
) -> float:
    """Seconds before the attempt after ``attempt`` (1-based): 30 s, 1 min, 2 min, ... 1 h."""
    return float(min(most, base * 2.0 ** min(attempt - 1, 32)))


class Notifier:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        box: Callable[[], SecretBox | None],
        clock: Callable[[], datetime] | None = None,
        backoff_seconds: float = BACKOFF_SECONDS,
    ) -> None:
        self.store = store
        self.settings = settings
        self._box = box
        self._clock = clock or store.now
        self._backoff = backoff_seconds
        self._overdue_checked: datetime | None = None

    def run_until(self, stop: threading.Event, interval: float = SWEEP_SECONDS) -> None:
        """Sweep every ``interval`` seconds until ``stop`` is set (a worker's helper thread)."""
        while not stop.wait(interval):
            try:
                self.sweep()
            except RotaError as exc:  # the database is away: the worker says so elsewhere
                log.warning("notifications: %s", exc)
            except Exception:  # a bug here must not end the thread (and every notification)
                log.exception("notifications: sweep failed")

    def sweep(self) -> int:
        """Write due ``overdue`` notifications, then deliver those due; answers how many
        were delivered."""
        now = self._clock()
        last = self._overdue_checked
        if last is None or (now - last).total_seconds() >= self.settings.heartbeat_seconds:
            self.store.enqueue_overdue_notifications(now)
            self._overdue_checked = now
        delivered = 0
        for notification in self.store.claim_notifications(BATCH, LEASE_SECONDS, now):
            delivered += self.deliver(notification)
        return delivered

    def deliver(self, notification: Notification) -> bool:
        """One attempt at ``notification`` and its recorded outcome."""
        try:
            if notification.channel is Channel.EMAIL:
                self._send_email(notification)
            else:
                self._send_webhook(notification)
        except DeliveryError as exc:
            error = str(exc)
        else:
            self.store.record_notification_attempt(
                notification.id, notification.attempts, self._clock()
            )
            return True
        now = self._clock()
        given_up = notification.attempts >= self.settings.notify_max_attempts
        retry_at = None if given_up else now + timedelta(seconds=self._retry_in(notification))
        log.warning(
            "notification %d (%s to %s) attempt %d failed%s: %s",
            notification.id,
            notification.channel.value,
            _shown_target(notification),
            notification.attempts,
            ", given up" if given_up else "",
            error,
        )
        self.store.record_notification_attempt(
            notification.id, notification.attempts, now, error=error, retry_at=retry_at
        )
        return False

    def _retry_in(self, notification: Notification) -> float:
        return backoff(notification.attempts, self._backoff)

    # -- e-mail ------------------------------------------------------------------------------

    def _send_email(self, notification: Notification) -> None:
        s = self.settings
        if not s.smtp_host or not s.smtp_sender:
            raise DeliveryError("no SMTP server configured ([smtp] host and sender in rota.toml)")
        message = EmailMessage()
        message["From"] = s.smtp_sender
        message["To"] = notification.target
        message["Subject"] = subject_line(notification)
        message["Date"] = format_datetime(self._clock())
        domain = s.smtp_sender.rpartition("@")[2]
        message["Message-ID"] = f"<{notification.message_id}@{domain}>"
        message.set_content(email_text(notification))
        where = f"SMTP {s.smtp_host}:{s.smtp_port}"
        try:
            smtp: smtplib.SMTP
            if s.smtp_security == "ssl":
                smtp = smtplib.SMTP_SSL(
                    s.smtp_host,
                    s.smtp_port,
                    timeout=s.smtp_timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
            with smtp:
                if s.smtp_security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_username:
                    smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
                smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"{where}: login refused ({exc.smtp_code})") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}") from None

    # -- webhooks ----------------------------------------------------------------------------

    def _signing_secret(self, notification: Notification) -> str:
        name = notification.secret or DEFAULT_WEBHOOK_SECRET
        try:
            stored = self.store.get_secret(notification.tenant, name)
        except NotFoundError:
            raise DeliveryError(
                f"signing secret {name!r} does not exist (rota secrets set {name})"
            ) from None
        box = self._box()
        if box is None:
            raise DeliveryError("no secret key here to open the signing secret with")
        try:
            return box.decrypt(stored.ciphertext, name)
        except RotaError as exc:
            raise DeliveryError(f"signing secret {name!r}: {exc}") from None

    def _send_webhook(self, notification: Notification) -> None:
        body = json.dumps(
            {"id": notification.message_id, **notification.payload}, separators=(",", ":")
        ).encode()
        headers = sign_standard(
            self._signing_secret(notification), notification.message_id, self._clock(), body
        )
        headers.update({"Content-Type": "application/json", "User-Agent": USER_AGENT})
        url = notification.target
        shown = f"POST {safe_url(url)}"
        try:
            with guarded_client(timeout=WEBHOOK_TIMEOUT) as client:
                response = client.post(url, content=body, headers=headers)
        except httpx2.HTTPError as exc:
            text = str(exc).replace(url, safe_url(url))
            raise DeliveryError(f"{shown}: {type(exc).__name__}: {text}") from None
        if response.is_redirect:
            raise DeliveryError(
                f"{shown} answered {response.status_code}: redirects are not followed"
            )
        if not response.is_success:
            raise DeliveryError(f"{shown} answered {response.status_code}")


def _shown_target(notification: Notification) -> str:
    if notification.channel is Channel.WEBHOOK:
        return safe_url(notification.target)
    return notification.target
