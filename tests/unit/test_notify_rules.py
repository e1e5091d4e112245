"""Notification rules as declared (YAML, ``@job``, ``process``), their checks, the messages
they produce, the backoff between attempts, and the settings they need."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rota.engine.messages import email_text, subject_line
from rota.engine.notifier import backoff
from rota.jobs.decorator import job
from rota.jobs.processes import process
from rota.jobs.yamljobs import parse_definitions
from rota.model.errors import DefinitionError, InvalidInputError
from rota.model.jobs import JobDefinition
from rota.model.notify import (
    Channel,
    Notification,
    NotificationStatus,
    NotifyEvent,
    NotifyRule,
    parse_rules,
    recipients,
)
from rota.settings import load_settings

YAML = """
id: t.notified
kind: http
url: https://api.example.org/ping
expected_runtime: 5m
notify:
  - on: [failed, partial, overdue, missed]
    email: [ops@example.org, oncall@example.org]
  - on: completed
    webhook: https://hooks.example.org/rota?token=x
    secret: rota-hooks
"""


def test_a_yaml_job_declares_rules_that_survive_the_store_round_trip() -> None:
    [definition] = parse_definitions(YAML, "jobs/t.yaml")
    first, second = definition.notify
    assert first.events == (
        NotifyEvent.FAILED,
        NotifyEvent.PARTIAL,
        NotifyEvent.OVERDUE,
        NotifyEvent.MISSED,
    )
    assert first.email == ("ops@example.org", "oncall@example.org")
    assert second.webhook == "https://hooks.example.org/rota?token=x"
    assert second.secret == "rota-hooks"
    again = JobDefinition.from_json(definition.to_json())
    assert again == definition and again.fingerprint == definition.fingerprint


def test_a_job_without_rules_keeps_its_fingerprint_form() -> None:
    [definition] = parse_definitions(
        "id: t.plain\nkind: http\nurl: https://api.example.org/\n", "jobs/t.yaml"
    )
    assert "notify" not in definition.to_json()


@pytest.mark.parametrize(
    ("rule", "field", "reason"),
    [
        ("{on: [boom], email: [a@example.org]}", "notify[0].on", "'boom' is not an event"),
        ("{email: [a@example.org]}", "notify[0].on", "is required"),
        ("{on: [], email: [a@example.org]}", "notify[0].on", "at least one"),
        ("{on: failed, email: [ops]}", "notify[0].email[0]", "not an e-mail address"),
        (
            '{on: failed, email: ["a@example.org\\nBcc: x@evil.org"]}',
            "notify[0].email[0]",
            "not an e-mail address",
        ),
        ("{on: failed, webhook: 'ftp://x.org/'}", "notify[0].webhook", "http or https"),
        ("{on: failed, webhook: 'https://u:p@x.org/'}", "notify[0].webhook", "user name"),
        ("{on: failed}", "notify[0]", "names nobody"),
        ("{on: failed, email: [a@example.org], secret: s}", "notify[0].secret", "webhook"),
        ("{on: failed, webhook: 'https://x.org/', secret: '1 bad'}", "notify[0].secret", "name"),
        ("{on: failed, mail: [a@example.org]}", "notify[0].mail", "not a notify option"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(rule: str, field: str, reason: str) -> None:
    text = f"id: t.bad\nkind: http\nurl: https://api.example.org/\nnotify:\n  - {rule}\n"
    with pytest.raises(DefinitionError) as caught:
        parse_definitions(text, "jobs/bad.yaml")
    assert caught.value.source == "jobs/bad.yaml"
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_python_jobs_and_processes_take_rules() -> None:
    @job(id="t.py", notify=[{"on": ["failed"], "email": "ops@example.org"}])
    def py(ctx: Any) -> None:
        pass

    declared = process(
        id="t.proc",
        steps={"one": {"job": "t.py"}},
        notify=[{"on": "overdue", "webhook": "https://hooks.example.org/"}],
        expected_runtime=60,
    )
    definition = py.__rota_job__.definition  # type: ignore[attr-defined]
    assert definition.notify == (
        NotifyRule(events=(NotifyEvent.FAILED,), email=("ops@example.org",)),
    )
    assert declared.definition.notify[0].webhook == "https://hooks.example.org/"
    with pytest.raises(InvalidInputError, match=r"notify\[0\]\.on"):
        job(id="t.bad", notify=[{"on": "late", "email": "a@example.org"}])(lambda ctx: None)


def test_each_recipient_hears_of_an_event_once() -> None:
    rules = parse_rules(
        [
            {"on": ["failed"], "email": ["ops@example.org"]},
            {"on": ["failed", "partial"], "email": ["ops@example.org"], "webhook": "https://h.io/"},
        ]
    )
    assert recipients(rules, NotifyEvent.FAILED) == [
        (Channel.EMAIL, "ops@example.org", None),
        (Channel.WEBHOOK, "https://h.io/", None),
    ]
    assert recipients(rules, NotifyEvent.COMPLETED) == []


def _notification(event: NotifyEvent, payload: dict[str, Any]) -> Notification:
    now = datetime(2026, 11, 20, 8, tzinfo=UTC)
    return Notification(
        id=7,
        event=event,
        channel=Channel.EMAIL,
        target="ops@example.org",
        job="t.job",
        tenant="default",
        run_id=12,
        subject="run:12",
        payload=payload,
        secret=None,
        status=NotificationStatus.PENDING,
        attempts=1,
        next_attempt_at=now,
        last_error=None,
        delivered_at=None,
        created_at=now,
    )


def test_messages_say_what_happened() -> None:
    run = {
        "id": 12,
        "status": "failed",
        "trigger": "schedule",
        "attempt": 3,
        "max_attempts": 3,
        "reason": "boom",
        "counters": {"inserted": 2, "failed": 1, "updated": 0},
    }
    failed = _notification(
        NotifyEvent.FAILED,
        {"event": "failed", "job": {"id": "t.job", "name": "T", "tenant": "default"}, "run": run},
    )
    assert subject_line(failed) == "[rota] t.job run 12 failed"
    text = email_text(failed)
    assert "Reason: boom" in text and "inserted 2, failed 1" in text and "updated" not in text
    missed = _notification(
        NotifyEvent.MISSED,
        {
            "job": {"id": "t.job"},
            "occurrence": {"schedule": "t.job:1", "time": "2026-11-20T07:00:00+00:00"},
        },
    )
    assert subject_line(missed) == "[rota] t.job: schedule time 2026-11-20T07:00:00+00:00 missed"


def test_backoff_doubles_up_to_its_ceiling() -> None:
    assert [backoff(n, 30, 3600) for n in (1, 2, 3, 8, 50)] == [30, 60, 120, 3600, 3600]


# -- settings -------------------------------------------------------------------------------------


def test_outgoing_and_smtp_tables_are_read_from_rota_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTA_SMTP_PASSWORD", "pw-from-env")
    (tmp_path / "rota.toml").write_text(
        '[outgoing]\nallow = ["127.0.0.1/32", "hooks.internal"]\n\n'
        '[smtp]\nhost = "mail.internal"\nport = 25\nsender = "rota@example.org"\n'
        'username = "rota"\nsecurity = "none"\ntimeout = 5\n'
    )
    settings = load_settings(tmp_path)
    assert settings.outgoing_allow == ["127.0.0.1/32", "hooks.internal"]
    assert len(settings.outgoing_policy.allow) == 2
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_security) == (
        "mail.internal",
        25,
        "none",
    )
    assert settings.smtp_password.get_secret_value() == "pw-from-env"


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ('[smtp]\npassword = "x"\n', "smtp.password"),
        ('[rota]\nsmtp_password = "x"\n', "smtp.password"),
        ('[smtp]\nhots = "x"\n', "smtp.hots"),
        ('[smtp]\nsender = "not an address"\n', "smtp_sender"),
        ('[outgoing]\nallow = ["10.0.0.0/40"]\n', "outgoing_allow"),
    ],
)
def test_bad_notification_settings_are_refused(tmp_path: Path, toml: str, field: str) -> None:
    (tmp_path / "rota.toml").write_text(toml)
    with pytest.raises(InvalidInputError) as caught:
        load_settings(tmp_path)
    assert caught.value.field == field
