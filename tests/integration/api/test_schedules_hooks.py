"""Schedules, occurrences, groups and webhook triggers through the API."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx2
from tests.integration.api.conftest import error

from rota.hooks.signatures import sign_standard
from rota.store import Store

SCHEDULE = {"job": "t.echo", "kind": "cron", "expression": "30 7 * * *", "tz": "Europe/Berlin"}


def test_schedules_are_created_changed_paused_resumed_and_deleted(api: httpx2.Client) -> None:
    listed = api.get("/api/v1/schedules", params={"job": "t.echo"}).json()
    assert [s["id"] for s in listed] == ["t.echo:1"]
    created = api.post("/api/v1/schedules", json={**SCHEDULE, "id": "echo-morning"})
    assert created.status_code == 201, created.text
    assert created.json()["origin"] == "api" and created.json()["next_fire_at"]
    again = api.post("/api/v1/schedules", json={**SCHEDULE, "id": "echo-morning"})
    assert again.status_code == 409
    changed = api.put(
        "/api/v1/schedules/echo-morning", json={**SCHEDULE, "expression": "0 8 * * *"}
    )
    assert changed.status_code == 200 and changed.json()["expression"] == "0 8 * * *"
    paused = api.post("/api/v1/schedules/echo-morning/pause", json={"note": "holiday"})
    assert paused.json()["paused"] is True and paused.json()["pause_note"] == "holiday"
    assert api.post("/api/v1/schedules/echo-morning/resume").json()["paused"] is False
    assert api.get("/api/v1/schedules/echo-morning").json()["expression"] == "0 8 * * *"
    for body, field in [
        ({**SCHEDULE, "id": "bad", "expression": "61 * * * *"}, "cron"),
        ({**SCHEDULE, "id": "bad", "tz": "Mars/Olympus"}, "tz"),
        ({**SCHEDULE, "id": "bad", "params": {"count": 9}}, "params.count"),
        ({**SCHEDULE, "id": "bad", "owner": "eve"}, "owner"),
        ({**SCHEDULE, "id": "bad", "tenant": "other"}, "tenant"),
        ({**SCHEDULE, "id": "bad", "kind": "sometimes"}, "kind"),
        ({"id": "bad", "expression": "* * * * *"}, "job"),
    ]:
        refused = api.post("/api/v1/schedules", json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert error(refused)["field"] == field, (body, refused.text)
    assert api.delete("/api/v1/schedules/echo-morning").status_code == 204
    assert api.get("/api/v1/schedules/echo-morning").json()["removed"] is True
    assert api.delete("/api/v1/schedules/t.echo:1").status_code == 409
    assert api.delete("/api/v1/schedules/nope").status_code == 404
    assert api.post("/api/v1/schedules/nope/pause").status_code == 404


def test_occurrences_and_groups(api: httpx2.Client) -> None:
    assert api.get("/api/v1/occurrences", params={"job": "t.echo"}).json() == []
    refused = api.get("/api/v1/occurrences", params={"outcome": "maybe"})
    assert refused.status_code == 422 and error(refused)["field"] == "outcome"
    assert api.get("/api/v1/occurrences", params={"schedule": "nope"}).status_code == 404
    groups = api.get("/api/v1/groups").json()
    assert [(g["name"], g["enabled"], g["jobs"]) for g in groups] == [("nightly", True, ["t.echo"])]
    disabled = api.post("/api/v1/groups/nightly/disable", json={"note": "migration"})
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    assert api.post("/api/v1/groups/nightly/enable").json()["enabled"] is True
    unknown = api.post("/api/v1/groups/nope/disable")
    assert unknown.status_code == 422 and error(unknown)["field"] == "group"


def test_hooks_are_created_with_a_secret_shown_once_rotated_and_deleted(
    api: httpx2.Client, base: str, synced: Store
) -> None:
    created = api.post(
        "/api/v1/hooks",
        json={"job": "t.ok", "id": "counts", "params": {"n": "{{ payload.n }}"}},
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert secret.startswith("whsec_") and created.json()["path"] == "/hooks/counts"
    listed = api.get("/api/v1/hooks")
    assert [h["id"] for h in listed.json()] == ["counts"] and secret not in listed.text
    body = json.dumps({"n": 2}).encode()
    headers = {
        **sign_standard(secret, f"msg_{uuid.uuid4().hex}", datetime.now(UTC), body),
        "Content-Type": "application/json",
    }
    delivered = httpx2.post(f"{base}/hooks/counts", content=body, headers=headers)
    assert delivered.status_code == 202, delivered.text
    assert synced.get_run(delivered.json()["run_id"]).params == {"n": 2}
    rotated = api.post("/api/v1/hooks/counts/rotate", json={"keep_previous_hours": 0})
    assert rotated.status_code == 200 and rotated.json()["secret"] not in (secret, None)
    stale = httpx2.post(
        f"{base}/hooks/counts",
        content=body,
        headers={**sign_standard(secret, "msg_x", datetime.now(UTC), body)},
    )
    assert stale.status_code == 401 and error(stale)["type"] == "signature"
    for payload, field in [
        ({"job": "t.ok", "secret": "mine"}, "secret"),
        ({"job": "t.ok", "tenant": "other"}, "tenant"),
        ({"job": "t.ok", "params": {"n": "{{ nothing.here }}"}}, "params.n"),
    ]:
        refused = api.post("/api/v1/hooks", json=payload)
        assert refused.status_code == 422, (payload, refused.text)
        assert error(refused)["field"] == field
    assert api.post("/api/v1/hooks", json={"job": "no.such"}).status_code == 404
    assert api.delete("/api/v1/hooks/counts").status_code == 204
    assert api.get("/api/v1/hooks").json() == []


def test_a_delivery_without_content_length_is_411(base: str) -> None:
    def body() -> object:
        yield b"{}"

    response = httpx2.post(f"{base}/hooks/counts", content=body())  # type: ignore[arg-type]
    assert response.status_code == 411 and error(response)["type"] == "length_required"
