"""The HTTP API as an administrator meets it: ``rota up``, the first administrator and a token
made with the real CLI, a run started over HTTP, the audit log, a revoked token."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from tests.acceptance.harness import Rota

PASSWORD = "a long and good passphrase"


def call(
    method: str, url: str, token: str | None = None, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read() or b"null")


def test_the_first_admin_unlocks_the_api_and_every_change_is_audited(synced_rota: Rota) -> None:
    rota = synced_rota
    up = rota.spawn("up", "--port", "0", name="up")
    base = rota.wait_for_output(up, r"health: +(http://127\.0\.0\.1:\d+)/healthz")
    assert call("GET", f"{base}/healthz")[0] == 200
    code, answer = call("GET", f"{base}/api/v1/jobs")
    assert code == 503 and "rota users create-admin" in answer["message"], answer

    refused = rota("users", "create-admin", "ada")  # no password: not asked off a terminal
    assert refused.code == 2 and "ROTA_ADMIN_PASSWORD" in refused.err, refused
    rota.ok("users", "create-admin", "ada", env={"ROTA_ADMIN_PASSWORD": PASSWORD})
    created = rota.json("tokens", "create", "--user", "ada", "--expires", "30")
    token = created["token"]
    assert token.startswith("rota_") and token not in rota.ok("tokens", "list").out

    code, jobs = call("GET", f"{base}/api/v1/jobs", token)
    assert code == 200 and "rates.import" in {j["id"] for j in jobs}
    code, run = call(
        "POST", f"{base}/api/v1/jobs/rates.import/runs", token, {"params": {"date": "2026-11-20"}}
    )
    assert code == 201, run
    assert (run["triggered_by"], run["run_as"], run["trigger"]) == ("ada", "ada", "api"), run
    deadline = time.monotonic() + 60
    while run["status"] not in ("completed", "partial", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        run = call("GET", f"{base}/api/v1/runs/{run['id']}", token)[1]
    assert run["status"] == "partial", run  # the example file has bad rows on purpose

    entries = rota.json("audit", "--action", "run.start")
    assert [(e["actor"], e["object_id"], e["source"]) for e in entries] == [
        ("ada", str(run["id"]), "127.0.0.1")
    ]
    assert entries[0]["detail"]["params"] == {"date": "2026-11-20"}

    rota.ok("tokens", "revoke", created["id"])
    assert call("GET", f"{base}/api/v1/jobs", token)[0] == 401
    kinds = {e["action"] for e in rota.json("audit", "--limit", "100")}
    assert {"user.create", "token.create", "run.start", "token.revoke"} <= kinds
