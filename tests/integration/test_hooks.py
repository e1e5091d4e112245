"""Webhook triggers through the real HTTP server of ``rota up`` (SQLite and PostgreSQL):
signatures in both forms, stale timestamps, replays, oversize bodies and secret rotation."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.integration.conftest import write_project

from rota.api.server import start
from rota.hooks.signatures import sign_github, sign_standard
from rota.model.hooks import MAX_BODY
from rota.model.runs import Trigger
from rota.model.status import RunStatus
from rota.services.hooks import create_hook, rotate_hook_secret
from rota.services.jobs import sync_project
from rota.settings import Settings
from rota.store import Store

JOBS = """
from rota import job

@job(id="h.member")
def member(ctx, member: int, source: str = "none"):
    return member
"""

PARAMS = {"member": "{{ payload.member.id }}", "source": '{{ headers.x-source | default("none") }}'}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, {"hooked.py": JOBS})


@pytest.fixture
def base(store: Store, project: Path, settings: Settings) -> Iterator[str]:
    assert not sync_project(store, project).errors
    server = start(store, settings, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()


@pytest.fixture
def hook(store: Store, settings: Settings, base: str) -> tuple[str, str]:
    created, secret = create_hook(store, settings, "h.member", hook_id="members", params=PARAMS)
    return created.id, secret


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def signed(
    secret: str, body: bytes, *, at: datetime | None = None, msg: str | None = None
) -> dict[str, str]:
    headers = sign_standard(secret, msg or f"msg_{uuid.uuid4().hex}", at or datetime.now(UTC), body)
    return {**headers, "Content-Type": "application/json"}


BODY = json.dumps({"member": {"id": 7}}).encode()


def test_a_signed_delivery_starts_the_job_with_mapped_parameters(
    store: Store, base: str, hook: tuple[str, str]
) -> None:
    hook_id, secret = hook
    code, answer = post(
        f"{base}/hooks/{hook_id}", BODY, {**signed(secret, BODY), "X-Source": "crm"}
    )
    assert code == 202 and answer["replay"] is False
    run = store.get_run(int(answer["run_id"]))  # type: ignore[call-overload]
    assert run.params == {"member": 7, "source": "crm"}
    assert run.trigger is Trigger.WEBHOOK and run.triggered_by == f"hook {hook_id}"
    assert run.run_as == "rota" and run.status is RunStatus.QUEUED


def test_github_form_is_accepted(store: Store, base: str, hook: tuple[str, str]) -> None:
    hook_id, secret = hook
    headers = {**sign_github(secret, BODY), "X-GitHub-Delivery": str(uuid.uuid4())}
    code, answer = post(f"{base}/hooks/{hook_id}", BODY, headers)
    assert code == 202, answer


@pytest.mark.parametrize("case", ["wrong secret", "tampered body", "stale", "future", "none"])
def test_bad_signatures_are_refused_and_start_nothing(
    store: Store, base: str, hook: tuple[str, str], case: str
) -> None:
    hook_id, secret = hook
    now = datetime.now(UTC)
    headers = {
        "wrong secret": signed("whsec_" + "A" * 43 + "=", BODY),
        "tampered body": signed(secret, BODY.replace(b"7", b"8")),
        "stale": signed(secret, BODY, at=now - timedelta(seconds=301)),
        "future": signed(secret, BODY, at=now + timedelta(seconds=301)),
        "none": {"Content-Type": "application/json"},
    }[case]
    code, answer = post(f"{base}/hooks/{hook_id}", BODY, headers)
    assert code == 401 and answer["type"] == "signature"
    assert store.count_runs() == 0


def test_a_replayed_delivery_answers_its_first_run_and_starts_nothing(
    store: Store, base: str, hook: tuple[str, str]
) -> None:
    hook_id, secret = hook
    headers = signed(secret, BODY, msg="msg_once")
    first = post(f"{base}/hooks/{hook_id}", BODY, headers)
    again = post(f"{base}/hooks/{hook_id}", BODY, headers)
    assert first[0] == 202 and again[0] == 200
    assert again[1]["run_id"] == first[1]["run_id"] and again[1]["replay"] is True
    assert store.count_runs() == 1


def test_an_oversize_body_is_refused_unread(store: Store, base: str, hook: tuple[str, str]) -> None:
    hook_id, secret = hook
    body = b'{"member": {"id": 7}, "pad": "' + b"x" * MAX_BODY + b'"}'
    code, _ = post(f"{base}/hooks/{hook_id}", body, signed(secret, body))
    assert code == 413
    assert store.count_runs() == 0


def test_unknown_hooks_and_bad_payloads(store: Store, base: str, hook: tuple[str, str]) -> None:
    hook_id, secret = hook
    assert post(f"{base}/hooks/nosuchhook", BODY, signed(secret, BODY))[0] == 404
    body = json.dumps({"member": {"id": "seven"}}).encode()
    code, answer = post(f"{base}/hooks/{hook_id}", body, signed(secret, body))
    assert code == 422 and answer["field"] == "params.member"
    body = b"not json"
    code, answer = post(f"{base}/hooks/{hook_id}", body, signed(secret, body))
    assert code == 422 and answer["field"] == "body"
    assert store.count_runs() == 0


def test_a_rotated_secret_keeps_the_old_one_for_a_while_then_refuses_it(
    store: Store, settings: Settings, base: str, hook: tuple[str, str]
) -> None:
    hook_id, old = hook
    _, new = rotate_hook_secret(store, settings, hook_id, keep_previous_hours=1)
    assert new != old
    assert post(f"{base}/hooks/{hook_id}", BODY, signed(old, BODY))[0] == 202
    assert post(f"{base}/hooks/{hook_id}", BODY, signed(new, BODY))[0] == 202
    _, newest = rotate_hook_secret(store, settings, hook_id, keep_previous_hours=0)
    assert post(f"{base}/hooks/{hook_id}", BODY, signed(new, BODY))[0] == 401
    assert post(f"{base}/hooks/{hook_id}", BODY, signed(newest, BODY))[0] == 202
    assert "secret" not in json.dumps(store.get_hook(hook_id).to_json()).replace(
        "previous_secret_valid_until", ""
    )
