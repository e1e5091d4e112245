"""Jobs and runs through the API: start with validated parameters, list and page, show with
attempts and history, cancel, retry, logs (paged and streamed), record results (JSON, CSV)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx2
from tests.integration.api.conftest import ADMIN, error
from tests.integration.conftest import wait_for_end

from rota.engine.worker import Worker
from rota.store import Store


def start(api: httpx2.Client, job: str, **body: Any) -> httpx2.Response:
    return api.post(f"/api/v1/jobs/{job}/runs", json=body)


def test_jobs_are_listed_shown_with_versions_and_a_parameter_schema(api: httpx2.Client) -> None:
    listed = api.get("/api/v1/jobs")
    assert listed.status_code == 200, listed.text
    ids = [j["id"] for j in listed.json()]
    assert "t.ok" in ids and "t.echo" in ids
    shell = api.get("/api/v1/jobs", params={"kind": "shell"}).json()
    assert {j["id"] for j in shell} == {"t.wipe", "t.echo"}
    shown = api.get("/api/v1/jobs/t.echo").json()
    assert (shown["id"], shown["kind"], shown["version"]) == ("t.echo", "shell", 1)
    versions = api.get("/api/v1/jobs/t.echo/versions").json()
    assert [v["version"] for v in versions] == [1]
    schema = api.get("/api/v1/jobs/t.echo/params").json()["schema"]
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    props = schema["properties"]
    assert props["word"] == {"type": "string", "pattern": "[a-z]+", "default": "hi"}
    assert props["count"] == {"type": "integer", "minimum": 1, "maximum": 5, "default": 1}
    assert props["day"]["format"] == "date" and props["day"]["x-rota-default"] == "today"
    assert props["color"]["enum"] == ["red", "green"]
    assert api.get("/api/v1/jobs/t.ok/params").json()["schema"]["required"] == []
    missing = api.get("/api/v1/jobs/no.such")
    assert missing.status_code == 404 and error(missing)["type"] == "not_found"


def test_a_run_starts_with_validated_parameters_and_bad_input_queues_nothing(
    api: httpx2.Client, synced: Store
) -> None:
    response = start(api, "t.ok", params={"n": "3"})
    assert response.status_code == 201, response.text
    run = response.json()
    assert (run["job"], run["status"], run["params"]) == ("t.ok", "queued", {"n": 3})
    assert (run["trigger"], run["triggered_by"]) == ("api", ADMIN)
    for body, field in [
        ({"params": {"n": "many"}}, "params.n"),
        ({"params": {"zzz": 1}}, "params.zzz"),
        ({"params": {}, "run_as": "root"}, "run_as"),
        ({"params": {}, "owner": "eve"}, "owner"),
        ({"params": {}, "tenant": "other"}, "tenant"),
        ({"params": {}, "role": "admin"}, "role"),
        ({"params": {}, "dry_run": True}, "dry_run"),
        ({"params": {}, "priority": 5000}, "priority"),
        ({"params": []}, "params"),
    ]:
        refused = start(api, "t.ok", **body)
        assert refused.status_code == 422, (body, refused.text)
        assert error(refused)["field"] == field, (body, refused.text)
    destructive = start(api, "t.wipe")
    assert destructive.status_code == 422 and error(destructive)["field"] == "confirm"
    assert start(api, "t.wipe", confirm=True).status_code == 201
    assert start(api, "no.such").status_code == 404
    assert synced.count_runs() == 2


def test_runs_are_listed_newest_first_with_filters_and_paging(api: httpx2.Client) -> None:
    ids = [start(api, "t.ok", params={"n": i}).json()["id"] for i in range(5)]
    start(api, "t.echo")
    page = api.get("/api/v1/runs", params={"job": "t.ok", "limit": 2}).json()
    assert [r["id"] for r in page["runs"]] == ids[:-3:-1]
    assert page["next_before"] == ids[3]
    rest = api.get(
        "/api/v1/runs", params={"job": "t.ok", "limit": 10, "before": page["next_before"]}
    ).json()
    assert [r["id"] for r in rest["runs"]] == ids[2::-1] and rest["next_before"] is None
    assert len(api.get("/api/v1/runs", params={"trigger": "api"}).json()["runs"]) == 6
    assert api.get("/api/v1/runs", params={"trigger": "schedule"}).json()["runs"] == []
    assert len(api.get("/api/v1/runs", params={"status": "queued"}).json()["runs"]) == 6
    future = api.get("/api/v1/runs", params={"since": "2999-01-01T00:00:00Z"}).json()
    assert future["runs"] == []
    for params, field in [
        ({"status": "nope"}, "status"),
        ({"trigger": "nope"}, "trigger"),
        ({"limit": 0}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"before": "x"}, "before"),
    ]:
        refused = api.get("/api/v1/runs", params=params)
        assert refused.status_code == 422, (params, refused.text)
        assert error(refused)["field"] == field


def test_cancel_and_retry(api: httpx2.Client) -> None:
    run = start(api, "t.ok").json()
    again = api.post(f"/api/v1/runs/{run['id']}/retry")
    assert again.status_code == 409 and error(again)["type"] == "conflict"
    canceled = api.post(f"/api/v1/runs/{run['id']}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert api.post(f"/api/v1/runs/{run['id']}/cancel").status_code == 409
    retried = api.post(f"/api/v1/runs/{run['id']}/retry", json={"confirm": False})
    assert retried.status_code == 201, retried.text
    assert retried.json()["retry_of"] == run["id"] and retried.json()["trigger"] == "retry"
    refused = api.post(f"/api/v1/runs/{run['id']}/retry", json={"run_as": "root"})
    assert refused.status_code == 422 and error(refused)["field"] == "run_as"
    assert api.post("/api/v1/runs/999999/cancel").status_code == 404


def test_a_finished_run_shows_attempts_history_logs_and_records(
    api: httpx2.Client, synced: Store, worker: Worker
) -> None:
    run_id = start(api, "t.some_bad").json()["id"]
    ok_id = start(api, "t.ok", params={"n": 3}).json()["id"]
    wait_for_end(synced, run_id)
    wait_for_end(synced, ok_id)
    shown = api.get(f"/api/v1/runs/{run_id}").json()
    assert shown["status"] == "partial"
    assert [a["number"] for a in shown["attempts"]] == [1]
    assert [h["to"] for h in shown["history"]][-1] == "partial"
    assert api.get(f"/api/v1/runs/{run_id}/attempts").json()[0]["outcome"] is not None
    assert api.get(f"/api/v1/runs/{run_id}/history").json() == shown["history"]

    records = api.get(f"/api/v1/runs/{run_id}/records").json()
    assert [(r["key"], r["action"]) for r in records["records"]] == [
        ("a", "inserted"),
        ("b", "insert"),
    ]
    failed = api.get(f"/api/v1/runs/{run_id}/records", params={"failed": True}).json()
    assert [r["error"] for r in failed["records"]] == ["bad value"]
    page = api.get(f"/api/v1/runs/{run_id}/records", params={"limit": 1}).json()
    assert len(page["records"]) == 1 and page["next_after"] is not None
    download = api.get(f"/api/v1/runs/{run_id}/records.csv")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows == [
        ["key", "action", "error", "attempt", "row"],
        ["a", "inserted", "", "1", ""],
        ["b", "insert", "bad value", "1", ""],
    ]

    logs = api.get(f"/api/v1/runs/{ok_id}/logs").json()
    messages = [line["message"] for line in logs["lines"]]
    assert "recorded 3" in messages and logs["finished"] is True
    after = api.get(f"/api/v1/runs/{ok_id}/logs", params={"after": logs["next_after"]}).json()
    assert after["lines"] == []
    first = api.get(f"/api/v1/runs/{ok_id}/logs", params={"limit": 1}).json()
    assert len(first["lines"]) == 1 and first["finished"] is False


def sse(response: httpx2.Response) -> list[tuple[str, str, dict[str, Any]]]:
    events: list[tuple[str, str, dict[str, Any]]] = []
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "":
            if "data" in fields:
                events.append(
                    (
                        fields.get("event", "message"),
                        fields.get("id", ""),
                        json.loads(fields["data"]),
                    )
                )
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    return events


def test_the_log_streams_as_server_sent_events_until_the_run_ends(
    api: httpx2.Client, synced: Store, worker: Worker
) -> None:
    run_id = start(api, "t.drip", params={"lines": 5}).json()["id"]
    with api.stream("GET", f"/api/v1/runs/{run_id}/logs/stream") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse(response)
    assert events[-1][0] == "end" and events[-1][2] == {"status": "completed"}
    logs = [e for e in events if e[0] == "log"]
    assert [int(e[1]) for e in logs] == [e[2]["seq"] for e in logs]
    stored = api.get(f"/api/v1/runs/{run_id}/logs").json()["lines"]
    assert [e[2] for e in logs] == stored
    assert [line["message"] for line in stored if line["message"].startswith("drop")] == [
        f"drop {i}" for i in range(5)
    ]
    with api.stream(
        "GET",
        f"/api/v1/runs/{run_id}/logs/stream",
        headers={"Last-Event-ID": str(stored[-1]["seq"])},
    ) as response:
        resumed = sse(response)
    assert [e[0] for e in resumed] == ["end"]
    assert api.get("/api/v1/runs/999999/logs/stream").status_code == 404


def test_processes_are_listed_and_a_process_run_shows_its_steps(
    api: httpx2.Client, synced: Store, worker: Worker
) -> None:
    assert [p["id"] for p in api.get("/api/v1/processes").json()] == ["t.flow"]
    assert api.get("/api/v1/processes/t.flow").json()["kind"] == "process"
    assert api.get("/api/v1/processes/t.ok").status_code == 404
    run_id = start(api, "t.flow").json()["id"]
    wait_for_end(synced, run_id)
    shown = api.get(f"/api/v1/runs/{run_id}").json()
    assert shown["status"] == "completed"
    steps = {s["name"]: s for s in shown["steps"]}
    assert set(steps) == {"first", "second"}
    assert all(s["status"] == "completed" and s["run_id"] for s in steps.values())
    resources = api.get("/api/v1/resources")
    assert resources.status_code == 200 and isinstance(resources.json(), list)
