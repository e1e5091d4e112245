"""``rota jobs check`` through the real CLI on the example project: the import's target is an
error until ``crm.setup`` created the CRM database, a missing source file is "source missing",
secrets are checked against the secret store, and the exit code says whether anything is an
error (2) or not (0)."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from tests.acceptance.harness import EXAMPLE_JOBS, ROTA, Rota, words

from rota.cli.errors import ExitCode

pytestmark = pytest.mark.acceptance


def by_check(checks: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["job"], c["check"]): c for c in checks}


def test_an_import_is_an_error_until_its_target_exists_then_ok(synced_rota: Rota) -> None:
    rota = synced_rota
    before = by_check(rota.json("jobs", "check", "members.import", code=ExitCode.BAD_INPUT))
    assert [name for job, name in before] == ["definition", "params", "secrets", "source", "target"]
    assert before["members.import", "target"]["status"] == "error"
    assert before["members.import", "target"]["reason"] == (
        "connection 'crm': database file .rota/crm.db does not exist"
    )
    assert before["members.import", "source"] == {
        "job": "members.import",
        "check": "source",
        "status": "ok",
        "reason": "data/members/members.csv is readable (459 bytes)",
    }
    assert not (rota.project / ".rota" / "crm.db").exists()  # the check created nothing

    rota.worker()
    rota.json("run", "crm.setup", "--wait")

    after = by_check(rota.json("jobs", "check", "members.import"))
    assert {c["status"] for c in after.values()} == {"ok"}
    assert after["members.import", "target"]["reason"] == (
        "table 'members' on 'crm' has every mapped column (5)"
    )
    everything = rota.json("jobs", "check")
    assert {c["job"] for c in everything} == EXAMPLE_JOBS
    assert [c for c in everything if c["status"] != "ok"] == []
    shown = rota.ok("jobs", "check", "members.import", "cleanup.nightly")
    assert words(shown.out).split()[:4] == ["job", "check", "status", "reason"]
    assert words(shown.out).endswith("10 checks: 10 ok, 0 warnings, 0 errors")


def test_a_missing_source_file_is_source_missing(synced_rota: Rota) -> None:
    rota = synced_rota
    (rota.project / "data" / "members" / "members.csv").unlink()

    result = rota("jobs", "check", "members.import")

    assert result.code == ExitCode.BAD_INPUT, result
    assert "source missing: members/members.csv (looked for data/members/members.csv)" in words(
        result.out
    )
    assert words(result.out).endswith("5 checks: 3 ok, 0 warnings, 2 errors")


def test_an_unknown_job_exits_2_naming_it(synced_rota: Rota) -> None:
    result = synced_rota("jobs", "check", "members.import", "nope")
    assert result.code == ExitCode.BAD_INPUT
    assert result.err_words == "error: job 'nope' not found"
    assert result.out == ""


def test_secret_references_are_checked_against_the_secret_store(synced_rota: Rota) -> None:
    rota = synced_rota
    rota.add_job_file(
        "notify.yaml",
        "id: notify.send\nkind: shell\ncommand: [env]\n"
        "env: {set: {TOKEN: '${secret:notify_token}', HOME_DIR: '${env:CHECK_HOME_DIR}'}}\n",
    )
    rota.ok("jobs", "sync")

    missing = by_check(rota.json("jobs", "check", "notify.send", code=ExitCode.BAD_INPUT))
    assert missing["notify.send", "secrets"]["reason"] == (
        "env.set.TOKEN: secret 'notify_token' does not exist (rota secrets set notify_token); "
        "env.set.HOME_DIR: environment variable CHECK_HOME_DIR is not set"
    )

    saved = subprocess.run(
        [str(ROTA), "secrets", "set", "notify_token"],
        env=rota.env(),
        cwd=rota.project,
        input="n0tify-s3cret\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert saved.returncode == 0, saved.stderr
    result = rota("jobs", "check", "notify.send", "--json", env={"CHECK_HOME_DIR": "/tmp"})
    assert result.code == 0, result
    secrets = by_check(result.json())["notify.send", "secrets"]
    assert secrets["status"] == "ok"
    assert secrets["reason"] == (
        "set: ${secret:notify_token} (env.set.TOKEN), ${env:CHECK_HOME_DIR} (env.set.HOME_DIR)"
    )
    assert "n0tify" not in result.out + result.err
