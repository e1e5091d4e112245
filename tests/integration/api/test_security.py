"""Every route and every role, tenant isolation, CSRF and session fixation, through the real
server. The route table must name every route the app serves: a new route without an access
rule here fails the first test."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from tests.integration.api.conftest import PASSWORD

from rota.api.app import create_app
from rota.auth.roles import SYSTEM
from rota.model.schedules import ScheduleKind, ScheduleSpec
from rota.services import access, hooks, jobs, runs, schedules
from rota.settings import Settings
from rota.store import Store

# What a route needs: PUBLIC (nothing), ANY (a login), READ/RUN/EDIT/ADMIN (that role in the
# tenant of the object, `default` here), GLOBAL (admin of every tenant), AUDITOR (admin of
# some tenant); SIGNED routes take no login, only a signature (401 for everyone here).
PUBLIC, SIGNED, ANY, READ, RUN, EDIT, ADMIN, GLOBAL, AUDITOR = (
    "public",
    "signed",
    "any",
    "read",
    "run",
    "edit",
    "admin",
    "global",
    "auditor",
)

ROLES: dict[str, dict[str, list[str]]] = {
    # In the order they are tried on each route: refused ones before allowed ones, so that an
    # allowed DELETE never removes the object before a refused role has been checked on it.
    "viewer": {"default": ["viewer"]},
    "network": {"*": ["network"]},
    "outsider": {"north": ["admin"]},
    "operator": {"default": ["operator"]},
    "editor": {"default": ["editor"]},
    "tenant_admin": {"default": ["admin"]},
    "global_admin": {"*": ["admin"]},
}

ALLOWED: dict[str, set[str]] = {
    ANY: set(ROLES),
    READ: {"viewer", "network", "operator", "editor", "tenant_admin", "global_admin"},
    RUN: {"operator", "editor", "tenant_admin", "global_admin"},
    EDIT: {"editor", "tenant_admin", "global_admin"},
    ADMIN: {"tenant_admin", "global_admin"},
    GLOBAL: {"global_admin"},
    AUDITOR: {"tenant_admin", "global_admin", "outsider"},
}


@dataclass
class World:
    """The objects of tenant ``default`` the routes are asked about."""

    queued_run: int
    ended_run: int
    hook: str
    api_schedule: str
    other_token: str
    counter: Iterator[int]

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"


Body = Callable[[World], dict[str, Any]] | None

# (method, path, need, body). Paths use {placeholders} filled from the World.
ROUTES: list[tuple[str, str, str, Body]] = [
    ("GET", "/healthz", PUBLIC, None),
    ("GET", "/metrics", ANY, None),
    ("POST", "/api/v1/session", PUBLIC, None),
    ("GET", "/api/v1/session", ANY, None),
    ("DELETE", "/api/v1/session", PUBLIC, None),
    ("POST", "/hooks/{hook_id}", SIGNED, None),
    ("GET", "/api/v1/roles", ANY, None),
    ("GET", "/api/v1/users", GLOBAL, None),
    ("GET", "/api/v1/users/{name}", GLOBAL, None),
    (
        "POST",
        "/api/v1/users",
        GLOBAL,
        lambda w: {"name": w.unique("u"), "password": PASSWORD, "grants": {"default": ["viewer"]}},
    ),
    ("PUT", "/api/v1/users/{name}/grants/{tenant}", ADMIN, lambda w: {"roles": ["viewer"]}),
    ("PUT", "/api/v1/users/{name}/password", GLOBAL, lambda w: {"password": PASSWORD + "!"}),
    ("POST", "/api/v1/users/{name}/disable", GLOBAL, None),
    ("POST", "/api/v1/users/{name}/enable", GLOBAL, None),
    ("GET", "/api/v1/tokens", ANY, None),
    ("POST", "/api/v1/tokens", ANY, lambda w: {"note": "mine"}),
    ("DELETE", "/api/v1/tokens/{token_id}", GLOBAL, None),
    ("GET", "/api/v1/tenants", ANY, None),
    ("POST", "/api/v1/tenants", GLOBAL, lambda w: {"id": w.unique("t")}),
    ("GET", "/api/v1/audit", AUDITOR, None),
    ("GET", "/api/v1/jobs", ANY, None),
    ("GET", "/api/v1/jobs/{job_id}", READ, None),
    ("GET", "/api/v1/jobs/{job_id}/versions", READ, None),
    ("GET", "/api/v1/jobs/{job_id}/versions/{version}", READ, None),
    ("GET", "/api/v1/jobs/{job_id}/params", READ, None),
    ("POST", "/api/v1/jobs/{job_id}/runs", RUN, lambda w: {"params": {"word": "hey"}}),
    (
        "POST",
        "/api/v1/jobs",
        EDIT,
        lambda w: {"id": w.unique("a.new"), "kind": "shell", "command": ["echo", "x"]},
    ),
    ("PUT", "/api/v1/jobs/{api_job}", EDIT, lambda w: {"kind": "shell", "command": ["echo", "y"]}),
    ("DELETE", "/api/v1/jobs/{api_job}", EDIT, None),
    ("GET", "/api/v1/runs", ANY, None),
    ("GET", "/api/v1/runs/{ended_run}", READ, None),
    ("GET", "/api/v1/runs/{ended_run}/attempts", READ, None),
    ("GET", "/api/v1/runs/{ended_run}/history", READ, None),
    ("GET", "/api/v1/runs/{ended_run}/logs", READ, None),
    ("GET", "/api/v1/runs/{ended_run}/logs/stream", READ, None),
    ("GET", "/api/v1/runs/{ended_run}/records", READ, None),
    ("GET", "/api/v1/runs/{ended_run}/records.csv", READ, None),
    ("POST", "/api/v1/runs/{queued_run}/cancel", RUN, None),
    ("POST", "/api/v1/runs/{ended_run}/retry", RUN, lambda w: {}),
    ("GET", "/api/v1/hooks", ANY, None),
    ("POST", "/api/v1/hooks", EDIT, lambda w: {"job": "t.echo"}),
    ("POST", "/api/v1/hooks/{hook_id}/rotate", EDIT, lambda w: {"keep_previous_hours": 1}),
    ("DELETE", "/api/v1/hooks/{hook_id}", EDIT, None),
    ("GET", "/api/v1/resources", ANY, None),
    ("GET", "/api/v1/processes", ANY, None),
    ("GET", "/api/v1/processes/{process_id}", READ, None),
    ("GET", "/api/v1/schedules", ANY, None),
    ("GET", "/api/v1/schedules/{schedule_id}", READ, None),
    (
        "POST",
        "/api/v1/schedules",
        EDIT,
        lambda w: {"id": w.unique("api-s"), "job": "t.echo", "expression": "0 7 * * *"},
    ),
    (
        "PUT",
        "/api/v1/schedules/{api_schedule}",
        EDIT,
        lambda w: {"job": "t.echo", "expression": "0 8 * * *"},
    ),
    ("DELETE", "/api/v1/schedules/{api_schedule}", EDIT, None),
    ("POST", "/api/v1/schedules/{schedule_id}/pause", EDIT, lambda w: {"note": "x"}),
    ("POST", "/api/v1/schedules/{schedule_id}/resume", EDIT, lambda w: {}),
    ("GET", "/api/v1/occurrences", ANY, None),
    ("GET", "/api/v1/groups", ANY, None),
    ("POST", "/api/v1/groups/{name}/enable", EDIT, lambda w: {}),
    ("POST", "/api/v1/groups/{name}/disable", EDIT, lambda w: {}),
]

UNCHECKED = {"/api/openapi.json", "/api/docs", "/api/docs/oauth2-redirect", "/api/redoc"}


def _template(path: str) -> str:
    """The app's own path template for one of the table's (placeholders renamed)."""
    for ours, theirs in (
        ("{api_job}", "{job_id}"),
        ("{ended_run}", "{run_id}"),
        ("{queued_run}", "{run_id}"),
        ("{api_schedule}", "{schedule_id}"),
    ):
        path = path.replace(ours, theirs)
    return path


def test_the_table_names_every_route_the_app_serves(synced: Store, settings: Settings) -> None:
    # The OpenAPI document lists every route (FastAPI includes routers lazily, so app.routes
    # does not).
    paths = create_app(synced, settings).openapi()["paths"]
    served = {
        (method.upper(), path)
        for path, operations in paths.items()
        if path not in UNCHECKED
        for method in operations
    }
    table = {(method, _template(path)) for method, path, _, _ in ROUTES}
    assert served - table == set(), "routes without an access rule in this table"
    assert table - served == set(), "rules for routes the app does not serve"


@pytest.fixture
def world(synced: Store, settings: Settings, admin: str) -> World:
    access.create_tenant(synced, "north", principal=SYSTEM)
    access.create_user(synced, "olga", PASSWORD, grants={"default": ["viewer"]}, principal=SYSTEM)
    olga_token, _ = access.create_token(synced, "olga", principal=SYSTEM)
    jobs.create_job(synced, {"id": "a.echo", "kind": "shell", "command": ["echo", "a"]})
    jobs.create_job(
        synced, {"id": "n.echo", "kind": "shell", "tenant": "north", "command": ["echo", "n"]}
    )
    queued = runs.start_run(synced, "t.echo", {})
    ended = runs.start_run(synced, "t.echo", {})
    runs.cancel_run(synced, ended.id)
    hook, _ = hooks.create_hook(synced, settings, "t.echo", hook_id="h-echo")
    schedules.put_schedule(
        synced,
        "t.echo",
        ScheduleSpec(id="api-setup", kind=ScheduleKind.CRON, expression="0 9 * * *"),
    )
    return World(
        queued_run=queued.id,
        ended_run=ended.id,
        hook=hook.id,
        api_schedule="api-setup",
        other_token=olga_token.id,
        counter=itertools.count(),
    )


def _tokens(store: Store) -> dict[str, str]:
    out = {}
    for role, grants in ROLES.items():
        access.create_user(store, f"r-{role}", PASSWORD, grants=grants, principal=SYSTEM)
        out[role] = access.create_token(store, f"r-{role}", principal=SYSTEM)[1]
    return out


def _fill(path: str, w: World) -> str:
    return path.format(
        hook_id=w.hook,
        name="olga",
        tenant="default",
        token_id=w.other_token,
        job_id="t.echo",
        api_job="a.echo",
        version=1,
        ended_run=w.ended_run,
        queued_run=w.queued_run,
        process_id="t.flow",
        schedule_id="t.echo:1",
        api_schedule=w.api_schedule,
    ).replace("/groups/olga/", "/groups/nightly/")


def _call(client: httpx2.Client, method: str, path: str, body: dict[str, Any] | None) -> int:
    if method == "GET" and path.endswith("/logs/stream"):
        with client.stream("GET", path) as response:
            return response.status_code
    return client.request(method, path, json=body).status_code


def test_every_route_answers_every_role_as_its_rule_says(
    synced: Store, base: str, world: World
) -> None:
    tokens = _tokens(synced)
    wrong: list[str] = []
    ordered = sorted(ROUTES, key=lambda r: r[0] == "DELETE")  # deletions last
    with httpx2.Client(base_url=base, timeout=20) as anonymous:
        for method, template, need, body in ordered:
            path = _fill(template, world)
            if need != PUBLIC:
                code = _call(anonymous, method, path, body(world) if body else None)
                if code != 401:
                    wrong.append(f"anonymous {method} {template}: {code}, expected 401")
            allowed = set(ROLES) if need in (PUBLIC, SIGNED, ANY) else ALLOWED[need]
            for role, token in tokens.items():
                with httpx2.Client(
                    base_url=base, timeout=20, headers={"Authorization": f"Bearer {token}"}
                ) as client:
                    code = _call(client, method, path, body(world) if body else None)
                if need == SIGNED:
                    if code != 401:
                        wrong.append(f"{role} {method} {template}: {code}, expected 401")
                elif role in allowed:
                    if code in (401, 403) or code >= 500:
                        wrong.append(f"{role} {method} {template}: {code}, expected allowed")
                elif role == "outsider" and need in (READ, RUN, EDIT):
                    # Tenant isolation: default's objects do not exist for it (a group it
                    # cannot see gets the answer of a misspelt group name).
                    expected = 422 if "/groups/" in template else 404
                    if code != expected:
                        wrong.append(f"{role} {method} {template}: {code}, expected {expected}")
                elif code != 403:
                    wrong.append(f"{role} {method} {template}: {code}, expected 403")
    assert wrong == [], "\n".join(wrong)


def test_lists_show_a_tenant_nothing_of_another(synced: Store, base: str, world: World) -> None:
    tokens = _tokens(synced)
    with httpx2.Client(
        base_url=base, timeout=20, headers={"Authorization": f"Bearer {tokens['outsider']}"}
    ) as client:
        assert [j["id"] for j in client.get("/api/v1/jobs").json()] == ["n.echo"]
        assert client.get("/api/v1/runs").json()["runs"] == []
        assert client.get("/api/v1/hooks").json() == []
        assert client.get("/api/v1/schedules").json() == []
        assert [t["id"] for t in client.get("/api/v1/tenants").json()] == ["north"]
        assert all(e["tenant"] == "north" for e in client.get("/api/v1/audit").json())
        metrics = client.get("/metrics").text
        assert "t.echo" not in metrics and 'job_id="n.echo"' in metrics
        # Asking by id is no better than guessing: the same answer as for no object at all.
        hidden = client.get(f"/api/v1/runs/{world.queued_run}")
        missing = client.get("/api/v1/runs/99999")
        assert (hidden.status_code, missing.status_code) == (404, 404)
        assert hidden.json()["message"] == f"run {world.queued_run} not found"
        assert missing.json()["message"] == "run 99999 not found"
        assert client.get("/api/v1/jobs/t.echo").json()["message"] == "job 't.echo' not found"
        hidden_group = client.post("/api/v1/groups/nightly/disable", json={}).json()
        assert hidden_group["message"] == "no job is in group 'nightly' (groups: none)"


def test_a_session_needs_its_csrf_token_to_change_anything(
    synced: Store, base: str, admin: str
) -> None:
    with httpx2.Client(base_url=base, timeout=20) as browser:
        login = browser.post("/api/v1/session", json={"name": admin, "password": PASSWORD})
        assert login.status_code == 200
        cookie = login.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        csrf = login.json()["csrf_token"]
        assert browser.get("/api/v1/jobs").status_code == 200  # reading needs no CSRF token
        refused = browser.post("/api/v1/jobs/t.echo/runs", json={})
        assert (refused.status_code, refused.json()["type"]) == (403, "csrf")
        forged = browser.post("/api/v1/jobs/t.echo/runs", json={}, headers={"X-CSRF-Token": "x"})
        assert forged.status_code == 403
        assert synced.count_runs() == 0
        started = browser.post("/api/v1/jobs/t.echo/runs", json={}, headers={"X-CSRF-Token": csrf})
        assert started.status_code == 201, started.text
        assert started.json()["run_as"] == admin and started.json()["triggered_by"] == admin


def test_login_never_adopts_a_session_id_it_did_not_issue(
    synced: Store, base: str, admin: str
) -> None:
    planted = "attacker-chosen-session-id"
    with httpx2.Client(base_url=base, timeout=20, cookies={"rota_session": planted}) as browser:
        assert browser.get("/api/v1/jobs").status_code == 401
        login = browser.post("/api/v1/session", json={"name": admin, "password": PASSWORD})
        issued = login.cookies.get("rota_session")
        assert issued and issued != planted
    with httpx2.Client(base_url=base, timeout=20, cookies={"rota_session": planted}) as attacker:
        assert attacker.get("/api/v1/jobs").status_code == 401
    with httpx2.Client(base_url=base, timeout=20, cookies={"rota_session": issued}) as browser:
        assert browser.get("/api/v1/jobs").status_code == 200
        csrf = browser.get("/api/v1/session").json()["csrf_token"]
        assert browser.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code in (
            200,
            204,
        )
    with httpx2.Client(base_url=base, timeout=20, cookies={"rota_session": issued}) as replay:
        assert replay.get("/api/v1/jobs").status_code == 401  # logged out: dead at once


def test_a_revoked_token_is_refused_on_its_next_request(
    synced: Store, base: str, admin: str
) -> None:
    info, token = access.create_token(synced, admin, principal=SYSTEM)
    with httpx2.Client(
        base_url=base, timeout=20, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        assert client.get("/api/v1/jobs").status_code == 200
        access.revoke_token(synced, info.id, principal=SYSTEM)
        assert client.get("/api/v1/jobs").status_code == 401
