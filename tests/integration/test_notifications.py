"""Notifications end to end, on SQLite and PostgreSQL: rules on jobs write the outbox in the
transaction of the event (a run's end, a schedule time missed, a run overdue), once per
recipient; a worker's notifier delivers them to a real SMTP server (aiosmtpd) and a real
webhook receiver that checks the signature; failed deliveries are tried again after a
backoff and given up after the last attempt. Time is a parameter: the notifier's clock is
moved by the test, nothing waits for a backoff."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from tests.integration.conftest import running_worker, wait_for_end, wait_until, write_project

from rota.engine.notifier import Notifier
from rota.hooks.signatures import SignatureError, verify
from rota.model.jobs import JobDefinition, JobKind
from rota.model.notify import DEFAULT_WEBHOOK_SECRET, NotificationStatus, parse_rules
from rota.model.runs import NewRun, Trigger
from rota.model.schedules import MissedPolicy, OccurrenceOutcome, ScheduleKind, ScheduleSpec
from rota.model.status import RunStatus
from rota.net.guard import OutgoingPolicy, configured
from rota.secrets.box import open_box
from rota.services.jobs import sync_project
from rota.services.runs import start_run
from rota.services.secrets import set_secret
from rota.settings import Settings, load_settings
from rota.store import Store
from rota.store.base import OccurrenceFilter

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SENDER = "rota@example.org"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- a mail server and a webhook receiver ------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


@dataclass
class Receiver:
    """Checks every request's signature as a real receiver would; answers ``statuses`` in
    turn (the last one from then on)."""

    statuses: list[int] = field(default_factory=lambda: [200])
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/rota?token=t0ken"

    def answer(self, headers: dict[str, str], body: bytes, now: datetime) -> int:
        try:
            verify(headers, body, [SECRET], now, tolerance=10**9)
        except SignatureError as exc:
            self.refused.append(str(exc))
            return 401
        self.received.append({"headers": headers, "body": json.loads(body)})
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = found.answer(headers, body, datetime.now().astimezone())
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    found.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        with configured(OutgoingPolicy.parse(["127.0.0.1/32"])):
            yield found
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


# -- a project whose jobs notify ---------------------------------------------------------------

JOBS = """
from rota import job

RULES = [
    {{"on": ["failed", "partial"], "email": ["ops@example.org"], "webhook": "{webhook}"}},
    {{"on": ["completed"], "webhook": "{webhook}"}},
]

@job(id="n.ok", notify=RULES)
def ok(ctx):
    return 1

@job(id="n.fail", notify=RULES)
def fail(ctx):
    raise RuntimeError("broken on purpose")

@job(id="n.quiet")
def quiet(ctx):
    return 0
"""


@pytest.fixture
def notify_settings(
    tmp_path: Path, database_url: str, inbox: tuple[Inbox, int], receiver: Receiver
) -> Settings:
    project = write_project(tmp_path, {"notifying.py": JOBS.format(webhook=receiver.url)})
    (project / "rota.toml").write_text(
        '[outgoing]\nallow = ["127.0.0.1/32"]\n\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {inbox[1]}\nsender = "{SENDER}"\n'
        'security = "none"\ntimeout = 10\n'
    )
    return load_settings(
        project,
        database_url=database_url,
        heartbeat_seconds=0.5,
        lease_seconds=1.5,
        poll_seconds=0.05,
        worker_concurrency=2,
        notify_max_attempts=3,
    )


@pytest.fixture
def project_store(store: Store, notify_settings: Settings) -> Store:
    report = sync_project(store, notify_settings.project)
    assert not report.errors, report.errors
    set_secret(store, notify_settings, DEFAULT_WEBHOOK_SECRET, SECRET, "test")
    return store


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def notifier(store: Store, settings: Settings, clock: Clock) -> Notifier:
    return Notifier(store, settings, box=lambda: open_box(settings, create=False), clock=clock)


# -- a worker delivers -------------------------------------------------------------------------


def test_a_failed_run_is_mailed_and_posted_once_and_signed(
    project_store: Store,
    notify_settings: Settings,
    inbox: tuple[Inbox, int],
    receiver: Receiver,
) -> None:
    store = project_store
    with running_worker(store, notify_settings):
        failed = wait_for_end(store, start_run(store, "n.fail", {}).id)
        quiet = wait_for_end(store, start_run(store, "n.quiet", {}).id)
        wait_until(
            lambda: len(inbox[0].messages) == 1 and len(receiver.received) == 1,
            what="the e-mail and the webhook",
        )
        wait_until(
            lambda: all(
                n.status is NotificationStatus.DELIVERED for n in store.list_notifications()
            ),
            what="deliveries recorded",
        )

    assert failed.status is RunStatus.FAILED and quiet.status is RunStatus.COMPLETED
    envelope = inbox[0].messages[0]
    assert envelope.mail_from == SENDER and envelope.rcpt_tos == ["ops@example.org"]
    mail = message_from_bytes(envelope.content)
    assert mail["Subject"] == f"[rota] n.fail run {failed.id} failed"
    assert "RuntimeError: broken on purpose" in mail.get_payload()
    body = receiver.received[0]["body"]
    assert (body["event"], body["job"]["id"], body["run"]["id"]) == ("failed", "n.fail", failed.id)
    assert receiver.received[0]["headers"]["webhook-id"] == body["id"]
    assert receiver.refused == []
    assert SECRET not in json.dumps(receiver.received)

    listed = store.list_notifications()
    assert sorted((n.channel.value, n.status.value, n.attempts) for n in listed) == [
        ("email", "delivered", 1),
        ("webhook", "delivered", 1),
    ]
    assert all(n.run_id == failed.id and n.delivered_at is not None for n in listed)


# -- the outbox: once per event and recipient --------------------------------------------------


def _cancel_queued(store: Store, job: str, now: datetime) -> int:
    version = store.get_job(job).version
    [run] = store.enqueue_runs(
        [
            NewRun(
                job=job,
                job_version=version,
                tenant="default",
                trigger=Trigger.MANUAL,
                params={},
                max_attempts=1,
                priority=0,
            )
        ],
        now,
    )
    store.request_cancel(run.id, "alice", now)
    assert store.get_run(run.id).status is RunStatus.CANCELED
    return run.id


def _definition(job_id: str, rules: list[dict[str, Any]], **fields: Any) -> JobDefinition:
    return JobDefinition(id=job_id, kind=JobKind.SHELL, notify=parse_rules(rules), **fields)


def test_an_event_is_written_once_per_recipient(store: Store, now: datetime) -> None:
    rules = [
        {"on": ["canceled"], "email": ["a@example.org", "b@example.org"]},
        {"on": ["canceled", "failed"], "email": "a@example.org"},
    ]
    store.sync_jobs([_definition("o.job", rules)], now)
    run_id = _cancel_queued(store, "o.job", now)

    # The end of the run is recorded again (a second worker, a replay): nothing new.
    with store._write() as conn:  # type: ignore[attr-defined]
        store._notify_ended_in(conn, run_id, RunStatus.CANCELED, now)  # type: ignore[attr-defined]

    listed = store.list_notifications()
    assert sorted(n.target for n in listed) == ["a@example.org", "b@example.org"]
    assert {(n.event.value, n.status.value, n.attempts) for n in listed} == {
        ("canceled", "pending", 0)
    }


def test_a_claimed_notification_is_not_claimed_again_until_its_lease_ends(
    store: Store, now: datetime
) -> None:
    store.sync_jobs([_definition("o.job", [{"on": "canceled", "email": "a@example.org"}])], now)
    _cancel_queued(store, "o.job", now)

    [first] = store.claim_notifications(10, 60, now)
    assert store.claim_notifications(10, 60, now + timedelta(seconds=59)) == []
    [again] = store.claim_notifications(10, 60, now + timedelta(seconds=61))

    assert (first.attempts, again.attempts) == (1, 2)
    # The first sender's late outcome no longer counts: the second one holds it now.
    assert not store.record_notification_attempt(first.id, 1, now)
    assert store.record_notification_attempt(again.id, 2, now)
    assert store.list_notifications(NotificationStatus.DELIVERED)[0].id == first.id


def test_a_failed_webhook_is_tried_again_after_the_backoff(
    project_store: Store, notify_settings: Settings, receiver: Receiver, now: datetime
) -> None:
    store = project_store
    receiver.statuses = [500, 200]
    clock = Clock(now)
    sender = notifier(store, notify_settings, clock)
    store.sync_jobs([_definition("o.hook", [{"on": "canceled", "webhook": receiver.url}])], now)
    _cancel_queued(store, "o.hook", now)

    assert sender.sweep() == 0
    [pending] = store.list_notifications()
    assert (pending.status, pending.attempts) == (NotificationStatus.PENDING, 1)
    assert pending.last_error is not None and "answered 500" in pending.last_error
    assert "t0ken" not in pending.last_error  # the query string is never shown
    assert pending.next_attempt_at == now + timedelta(seconds=30)

    clock.now = now + timedelta(seconds=29)
    assert sender.sweep() == 0 and len(receiver.received) == 1
    clock.now = now + timedelta(seconds=31)
    assert sender.sweep() == 1

    [delivered] = store.list_notifications()
    assert (delivered.status, delivered.attempts) == (NotificationStatus.DELIVERED, 2)
    first, second = receiver.received
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    assert receiver.refused == []


def test_a_notification_is_given_up_after_the_last_attempt(
    project_store: Store, notify_settings: Settings, receiver: Receiver, now: datetime
) -> None:
    store = project_store
    receiver.statuses = [503]
    clock = Clock(now)
    sender = notifier(store, notify_settings, clock)
    store.sync_jobs([_definition("o.hook", [{"on": "canceled", "webhook": receiver.url}])], now)
    _cancel_queued(store, "o.hook", now)

    for _ in range(notify_settings.notify_max_attempts):
        sender.sweep()
        clock.now += timedelta(hours=2)

    [failed] = store.list_notifications()
    assert (failed.status, failed.attempts) == (NotificationStatus.FAILED, 3)
    assert failed.next_attempt_at is None
    assert store.list_notifications(NotificationStatus.FAILED) == [failed]
    assert len(receiver.received) == 3


def test_a_webhook_to_an_address_not_allowed_is_refused_and_recorded(
    project_store: Store, notify_settings: Settings, receiver: Receiver, now: datetime
) -> None:
    store = project_store
    clock = Clock(now)
    store.sync_jobs([_definition("o.hook", [{"on": "canceled", "webhook": receiver.url}])], now)
    _cancel_queued(store, "o.hook", now)

    with configured(OutgoingPolicy()):
        notifier(store, notify_settings, clock).sweep()

    [pending] = store.list_notifications()
    assert pending.last_error is not None and "loopback" in pending.last_error
    assert receiver.received == []


# -- overdue runs and missed schedule times ----------------------------------------------------


def test_a_run_past_its_expected_runtime_is_overdue_once(store: Store, now: datetime) -> None:
    rules = [{"on": "overdue", "email": "ops@example.org"}]
    store.sync_jobs([_definition("o.slow", rules, expected_runtime=60)], now)
    [run] = store.enqueue_runs(
        [
            NewRun(
                job="o.slow",
                job_version=1,
                tenant="default",
                trigger=Trigger.MANUAL,
                params={},
                max_attempts=1,
                priority=0,
            )
        ],
        now,
    )
    store.register_worker("w1", "host", 1, 1, now)
    assert [c.run_id for c in store.claim_runs("w1", 1, 600, now)] == [run.id]

    assert store.enqueue_overdue_notifications(now + timedelta(seconds=59)) == 0
    assert store.enqueue_overdue_notifications(now + timedelta(seconds=61)) == 1
    assert store.enqueue_overdue_notifications(now + timedelta(seconds=120)) == 0

    [overdue] = store.list_notifications()
    assert (overdue.event.value, overdue.run_id) == ("overdue", run.id)
    assert overdue.payload["run"]["expected_runtime"] == 60  # type: ignore[index, call-overload]


def test_missed_schedule_times_are_notified(store: Store, now: datetime) -> None:
    rules = [{"on": ["missed"], "email": "ops@example.org"}]
    every_minute = ScheduleSpec(
        kind=ScheduleKind.INTERVAL, expression="60s", missed=MissedPolicy.SKIP
    )
    store.sync_jobs([_definition("o.sched", rules, schedules=(every_minute,))], now)

    store.fire_due_schedules(now + timedelta(minutes=4, seconds=30), service_account="rota")

    missed = [
        o.nominal_time
        for o in store.list_occurrences(OccurrenceFilter(limit=100))
        if o.outcome is OccurrenceOutcome.SKIPPED_MISSED
    ]
    listed = store.list_notifications()
    assert len(missed) >= 3 and len(listed) == len(missed)
    assert {n.event.value for n in listed} == {"missed"}
    assert {n.run_id for n in listed} == {None}
    times = sorted(n.payload["occurrence"]["time"] for n in listed)  # type: ignore[index, call-overload]
    assert times == sorted(t.isoformat() for t in missed)
