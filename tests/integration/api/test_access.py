"""Sessions, CSRF, users, tokens, tenants and the audit log through the API."""

from __future__ import annotations

import httpx2
from tests.integration.api.conftest import ADMIN, PASSWORD, error

from rota.store import Store


def login(base: str, name: str = ADMIN, password: str = PASSWORD) -> httpx2.Client:
    client = httpx2.Client(base_url=base, timeout=20)
    answer = client.post("/api/v1/session", json={"name": name, "password": password})
    assert answer.status_code == 200, answer.text
    return client


def test_a_session_logs_in_needs_csrf_to_change_things_and_logs_out(
    base: str, admin: str, synced: Store
) -> None:
    with httpx2.Client(base_url=base, timeout=20) as client:
        wrong = client.post("/api/v1/session", json={"name": ADMIN, "password": "nope"})
        assert wrong.status_code == 401 and error(wrong)["type"] == "unauthenticated"
        answer = client.post("/api/v1/session", json={"name": ADMIN, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        cookie = answer.headers["set-cookie"].lower()
        assert "rota_session=" in cookie and "httponly" in cookie
        assert "samesite=strict" in cookie and "path=/" in cookie and "secure" not in cookie
        csrf = answer.json()["csrf_token"]
        assert answer.json()["user"] == ADMIN and csrf
        who = client.get("/api/v1/session").json()
        assert (who["user"], who["csrf_token"]) == (ADMIN, csrf)
        assert client.get("/api/v1/jobs").status_code == 200
        refused = client.post("/api/v1/jobs/t.ok/runs", json={})
        assert refused.status_code == 403 and error(refused)["type"] == "csrf"
        forged = client.post("/api/v1/jobs/t.ok/runs", json={}, headers={"X-CSRF-Token": "forged"})
        assert forged.status_code == 403
        started = client.post("/api/v1/jobs/t.ok/runs", json={}, headers={"X-CSRF-Token": csrf})
        assert started.status_code == 201, started.text
        assert client.delete("/api/v1/session").status_code == 204
        client.cookies.clear()
        client.cookies.set("rota_session", answer.cookies["rota_session"])
        assert client.get("/api/v1/jobs").status_code == 401
    unknown = httpx2.post(f"{base}/api/v1/session", json={"name": "nobody", "password": "x"})
    assert unknown.status_code == 401
    extra = httpx2.post(
        f"{base}/api/v1/session", json={"name": ADMIN, "password": PASSWORD, "role": "admin"}
    )
    assert extra.status_code == 422 and error(extra)["field"] == "role"


def test_users_tokens_tenants_and_the_audit_log(api: httpx2.Client, base: str) -> None:
    tenant = api.post("/api/v1/tenants", json={"id": "north", "name": "North library"})
    assert tenant.status_code == 201, tenant.text
    assert "north" in [t["id"] for t in api.get("/api/v1/tenants").json()]
    created = api.post(
        "/api/v1/users",
        json={"name": "bob", "password": "s3cret-enough-pw", "grants": {"north": ["viewer"]}},
    )
    assert created.status_code == 201, created.text
    assert created.json()["grants"] == {"north": ["viewer"]}
    for body, field in [
        ({"name": "eve", "password": "pw-pw-pw-pw-pw", "role": "admin"}, "role"),
        ({"name": "eve", "password": "pw-pw-pw-pw-pw", "tenant": "north"}, "tenant"),
        (
            {"name": "eve", "password": "pw-pw-pw-pw-pw", "grants": {"mars": ["viewer"]}},
            "grants.mars",
        ),
    ]:
        refused = api.post("/api/v1/users", json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert error(refused)["field"] == field
    assert api.post("/api/v1/users", json={"name": "bob", "password": "x" * 12}).status_code == 409
    granted = api.put("/api/v1/users/bob/grants/north", json={"roles": ["operator"]})
    assert granted.status_code == 200 and granted.json()["grants"]["north"] == ["operator"]
    assert api.get("/api/v1/users/bob").json()["name"] == "bob"
    assert {u["name"] for u in api.get("/api/v1/users").json()} >= {ADMIN, "bob"}
    assert api.get("/api/v1/users/nobody").status_code == 404

    made = api.post("/api/v1/tokens", json={"user": "bob", "expires_days": 30, "note": "ci"})
    assert made.status_code == 201, made.text
    token, info = made.json()["token"], made.json()["info"]
    with httpx2.Client(
        base_url=base, timeout=20, headers={"Authorization": f"Bearer {token}"}
    ) as bob:
        who = bob.get("/api/v1/session").json()
        assert who["user"] == "bob" and who["csrf_token"] is None
        assert bob.get("/api/v1/jobs").json() == []  # bob sees north only; jobs are default
        assert bob.get("/api/v1/users").status_code == 403
        assert bob.post("/api/v1/tenants", json={"id": "south"}).status_code == 403
        assert api.delete(f"/api/v1/tokens/{info['id']}").status_code == 204
        assert bob.get("/api/v1/jobs").status_code == 401
    assert token not in api.get("/api/v1/tokens").text
    assert api.post("/api/v1/users/bob/disable").json()["disabled"] is True
    assert (
        api.put("/api/v1/users/bob/password", json={"password": "n3w-pass-word"}).status_code == 204
    )

    audit = api.get("/api/v1/audit", params={"limit": 100}).json()
    actions = {e["action"] for e in audit}
    assert {"user.create", "user.grant", "tenant.create"} <= actions, actions
    only = api.get("/api/v1/audit", params={"action": "user.create"}).json()
    assert only and all(e["action"] == "user.create" for e in only)
    roles = api.get("/api/v1/roles").json()
    assert [r["name"] for r in roles] == ["viewer", "operator", "editor", "admin", "network"]
