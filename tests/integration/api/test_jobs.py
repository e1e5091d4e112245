"""Data, shell and HTTP jobs defined through the API; Python jobs stay read-only."""

from __future__ import annotations

import httpx2
from tests.integration.api.conftest import error

HELLO = {
    "id": "api.hello",
    "kind": "shell",
    "name": "Say hello",
    "params": {"who": {"type": "str", "default": "world"}},
    "command": ["echo", "hello", "{who}"],
}


def test_a_shell_job_is_created_changed_run_and_removed(api: httpx2.Client) -> None:
    created = api.post("/api/v1/jobs", json=HELLO)
    assert created.status_code == 201, created.text
    assert (created.json()["version"], created.json()["origin"]) == (1, "api")
    assert api.post("/api/v1/jobs", json=HELLO).status_code == 409
    changed = api.put("/api/v1/jobs/api.hello", json={**HELLO, "name": "Greet"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["version"], changed.json()["name"]) == (2, "Greet")
    versions = api.get("/api/v1/jobs/api.hello/versions").json()
    assert [v["version"] for v in versions] == [2, 1]
    assert api.get("/api/v1/jobs/api.hello/versions/1").json()["name"] == "Say hello"
    run = api.post("/api/v1/jobs/api.hello/runs", json={"params": {"who": "ada"}})
    assert run.status_code == 201 and run.json()["params"] == {"who": "ada"}
    renamed = api.put("/api/v1/jobs/api.hello", json={**HELLO, "id": "api.other"})
    assert renamed.status_code == 422 and error(renamed)["field"] == "id"
    assert api.delete("/api/v1/jobs/api.hello").status_code == 204
    assert api.get("/api/v1/jobs/api.hello").json()["removed"] is True
    assert "api.hello" not in [j["id"] for j in api.get("/api/v1/jobs").json()]


def test_bad_documents_and_python_jobs_are_refused(api: httpx2.Client) -> None:
    for document, field in [
        ({**HELLO, "kind": "python"}, "kind"),
        ({**HELLO, "timeout": "soon"}, "timeout"),
        ({**HELLO, "params": {"who": {"type": "colour"}}}, "params.who.type"),
        ({**HELLO, "tenant": "mars"}, "tenant"),
    ]:
        refused = api.post("/api/v1/jobs", json=document)
        assert refused.status_code == 422, (document, refused.text)
        assert error(refused)["field"] == field, (document, refused.text)
    not_an_object = api.post("/api/v1/jobs", json=["id"])
    assert not_an_object.status_code == 422
    python = api.put("/api/v1/jobs/t.ok", json={**HELLO, "id": "t.ok"})
    assert python.status_code == 409 and error(python)["type"] == "conflict"
    assert api.delete("/api/v1/jobs/t.ok").status_code == 409
    assert api.delete("/api/v1/jobs/no.such").status_code == 404
