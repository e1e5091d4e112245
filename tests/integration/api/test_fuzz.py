"""Schemathesis against the real server: requests generated from the OpenAPI document must
never make it fail (5xx). A short run here; `make fuzz` runs every check for longer."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rota.store import Store

ST = Path(sys.executable).parent / "st"
SPARED = r"^/api/v1/(tokens/|users/\{name\}/(disable|password)|session)"
"""Routes that would lock the fuzzer out (revoking its token, disabling its user)."""


def test_generated_requests_never_make_the_server_fail(store: Store, base: str, token: str) -> None:
    if not store.url.startswith("sqlite"):
        pytest.skip("one database is enough for the fuzzer: the API code is the same")
    if not ST.exists() and shutil.which("st") is None:
        pytest.fail("schemathesis is a development dependency: make dev installs it")
    done = subprocess.run(
        [
            str(ST if ST.exists() else "st"),
            "run",
            f"{base}/api/openapi.json",
            "-H",
            f"Authorization: Bearer {token}",
            "--checks",
            "not_a_server_error",
            "--phases",
            "examples,fuzzing",
            "--max-examples",
            "4",
            "--workers",
            "1",
            "--seed",
            "7",
            "--no-color",
            "--exclude-path-regex",
            SPARED,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "passed" in done.stdout
