"""What every request meets before a route: credentials, the first-administrator notice, the
OpenAPI document, security headers, body limits and the one error format."""

from __future__ import annotations

import json

import httpx2
from tests.integration.api.conftest import error

from rota.store import Store


def test_healthz_needs_no_credentials_and_carries_security_headers(anon: httpx2.Client) -> None:
    response = anon.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "queued": 0}
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"


def test_before_the_first_administrator_every_route_says_how_to_create_one(
    anon: httpx2.Client,
) -> None:
    response = anon.get("/api/v1/jobs")
    assert response.status_code == 503
    body = error(response)
    assert body["type"] == "setup_required"
    assert "rota users create-admin NAME" in str(body["message"])
    assert anon.get("/healthz").status_code == 200
    assert anon.get("/api/openapi.json").status_code == 200


def test_without_credentials_it_is_401_in_the_one_format(anon: httpx2.Client, admin: str) -> None:
    for method, path in [
        ("GET", "/api/v1/jobs"),
        ("GET", "/api/v1/runs/1"),
        ("POST", "/api/v1/jobs/t.ok/runs"),
        ("GET", "/metrics"),
        ("GET", "/api/v1/session"),
    ]:
        response = anon.request(method, path, json={})
        assert response.status_code == 401, (path, response.text)
        assert error(response)["type"] == "unauthenticated"
    bad = anon.get("/api/v1/jobs", headers={"Authorization": "Bearer rota_nope"})
    assert bad.status_code == 401 and error(bad)["type"] == "unauthenticated"
    basic = anon.get("/api/v1/jobs", headers={"Authorization": "Basic YTpi"})
    assert basic.status_code == 401


def test_the_openapi_document_is_served_and_documents_every_route(anon: httpx2.Client) -> None:
    response = anon.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for path in (
        "/healthz",
        "/metrics",
        "/api/v1/session",
        "/api/v1/jobs",
        "/api/v1/jobs/{job_id}/params",
        "/api/v1/jobs/{job_id}/runs",
        "/api/v1/runs",
        "/api/v1/runs/{run_id}/logs/stream",
        "/api/v1/runs/{run_id}/records.csv",
        "/api/v1/schedules",
        "/api/v1/occurrences",
        "/api/v1/groups",
        "/api/v1/resources",
        "/api/v1/processes",
        "/api/v1/hooks",
        "/hooks/{hook_id}",
        "/api/v1/users",
        "/api/v1/tokens",
        "/api/v1/tenants",
        "/api/v1/audit",
    ):
        assert path in paths, path
    for path, operations in paths.items():
        for method, operation in operations.items():
            answers = operation["responses"]
            ok = [code for code in answers if code.startswith("2")]
            assert ok, (method, path)
            for code in ok:
                described = answers[code]
                assert described.get("description"), (method, path, code)
                assert "content" in described or code == "204", (method, path, code)
            if path not in ("/healthz", "/api/openapi.json"):
                assert "422" in answers or "401" in answers, (method, path)
    names = document["components"]["schemas"]
    assert names["ErrorBody"]["properties"].keys() == {"type", "message", "field"}
    assert names["StartRunBody"]["additionalProperties"] is False


def test_malformed_and_oversize_bodies(api: httpx2.Client) -> None:
    response = api.post(
        "/api/v1/jobs/t.ok/runs",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert error(response)["field"] == "body"
    huge = json.dumps({"params": {"n": 1}, "pad": "x" * (1024 * 1024)}).encode()
    response = api.post(
        "/api/v1/jobs/t.ok/runs", content=huge, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert error(response)["type"] == "too_large"

    def chunks() -> object:
        for _ in range(40):
            yield b"x" * 65536

    response = api.post(
        "/api/v1/jobs/t.ok/runs",
        content=chunks(),  # type: ignore[arg-type]
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text


def test_unknown_paths_and_methods_answer_in_the_one_format(api: httpx2.Client) -> None:
    response = api.get("/api/v1/nothing")
    assert response.status_code == 404 and error(response)["type"] == "not_found"
    response = api.delete("/api/v1/runs")
    assert response.status_code == 405 and error(response)["type"] == "method_not_allowed"


def test_metrics_for_a_token(api: httpx2.Client, synced: Store) -> None:
    response = api.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert b"rota_" in response.content
