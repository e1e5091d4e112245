"""Scenario 7: one machine on SQLite, ``rota up`` killed with ``kill -9`` at random moments.

Each round starts ``rota up``, sends one to three ``rota run JOB --json`` at once (each one
that exits 0 with a run id is an acknowledged request), and kills ``rota up`` (its process
group: worker slots, job processes) at a random moment between its start and a few seconds
later: while it migrates or syncs, claims, runs a job or commits an outcome. After every kill
``PRAGMA integrity_check`` must answer ``ok``. At the end one more ``rota up`` runs until every
acknowledged run has ended: none may be missing or stay unfinished, each has one terminal
record, and a non-idempotent job never executed twice.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.acceptance.harness import COMMAND_TIMEOUT, ROTA, MakeRota, Rota, wait_until, words
from tests.faults.history import (
    History,
    all_ended,
    check_runs,
    executions_of,
    report,
    spread,
    tally,
    unfinished,
)
from tests.faults.support import IDEMPOTENT, ONCE, executions, install_jobs, pause

pytestmark = pytest.mark.acceptance

UP_READY = r"worker:\s+(\S+) \(concurrency"


@dataclass
class Request:
    job: str
    popen: subprocess.Popen[str]


def _request(rota: Rota, rng: random.Random) -> Request:
    """``rota run JOB -p mid=... --json``, started without waiting for it."""
    job = rng.choice((IDEMPOTENT, ONCE))
    popen = subprocess.Popen(
        [str(ROTA), "run", job, "-p", f"mid={rng.uniform(0.2, 1.5):.2f}", "--json"],
        env=rota.env(),
        cwd=rota.project,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Request(job, popen)


def _answer(request: Request, history: History) -> int | None:
    """The acknowledged run id, or None (the request was refused: it promised nothing)."""
    out, err = request.popen.communicate(timeout=COMMAND_TIMEOUT)
    if request.popen.returncode == 0:
        run_id = int(json.loads(out)["id"])
        history.acknowledge(run_id, request.job, idempotent=request.job == IDEMPOTENT, how="cli")
        return run_id
    history.refused.append({"code": request.popen.returncode, "stderr": err.strip()[-300:]})
    return None


def _integrity(database: Path) -> str:
    conn = sqlite3.connect(database, timeout=30)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()
    return "; ".join(str(r[0]) for r in rows)


def test_rota_up_killed_at_random_moments_on_sqlite_loses_no_acknowledged_run(
    make_rota: MakeRota, rounds: int, rng: random.Random, history: History
) -> None:
    rota = install_jobs(make_rota)
    database = Path(rota.database_url.removeprefix("sqlite:///"))
    started = time.monotonic()
    per_round: list[dict[str, Any]] = []
    for number in range(1, rounds + 1):
        up = rota.spawn("up", "--port", "0", name="up")
        spawned = time.time()
        # Half the kills land while it starts (migrates, syncs), half while it runs jobs. The
        # first requests need the database migrated and the jobs synced.
        moment = "running" if number == 1 else rng.choice(("starting", "running"))
        if moment == "running":
            rota.wait_for_output(up, UP_READY)
        requests = [_request(rota, rng) for _ in range(rng.randint(1, 3))]
        pause(rng.uniform(0.2, 2.0) if moment == "starting" else rng.uniform(0.5, 3.0))
        ready = re.search(UP_READY, words(up.stdout.read_text(errors="replace"))) is not None
        kill = history.fault("kill", up.name, pid=up.pid, round=number, up_was_ready=ready)
        up.kill()
        check = _integrity(database)
        answered = [_answer(r, history) for r in requests]
        per_round.append(
            {
                "round": number,
                "moment": moment,
                "kill_after": round(kill.at - spawned, 3),
                "up_was_ready": ready,
                "integrity": check,
                "acknowledged": sum(a is not None for a in answered),
                "refused": sum(a is None for a in answered),
            }
        )
        assert check == "ok", f"round {number}: PRAGMA integrity_check: {check}"

    up = rota.spawn("up", "--port", "0", name="up-final")
    rota.wait_for_output(up, UP_READY)
    acknowledged = sorted(history.enqueued)
    wait_until(
        lambda: all_ended(rota.store, acknowledged),
        timeout=120,
        what="every acknowledged run to end",
        describe=lambda: unfinished(rota.store, acknowledged) + "\n" + up.output(),
    )
    runs = check_runs(rota.store, acknowledged)  # none missing, one terminal record each
    lines = executions(rota)
    for run_id, entry in history.enqueued.items():
        if not entry.idempotent:
            assert len(executions_of(lines, run_id)) <= 1, f"run {run_id} executed twice"
        if entry.idempotent:
            assert runs[run_id].status.value == "completed", rota.describe(run_id)()
    history.details["rounds"] = per_round
    figures = {
        "rounds": rounds,
        "seconds": round(time.monotonic() - started, 1),
        "kills": len(history.kills()),
        "moments": tally(r["moment"] for r in per_round),
        "kills_before_up_was_ready": sum(not r["up_was_ready"] for r in per_round),
        "kill_after_start": spread([r["kill_after"] for r in per_round]),
        "integrity_checks_ok": sum(r["integrity"] == "ok" for r in per_round),
        "acknowledged_runs": len(acknowledged),
        "refused_requests": len(history.refused),
        "lost_acknowledged_runs": 0,  # check_runs
        "statuses": tally(
            f"{r.status.value}" + (f" ({r.reason})" if r.reason else "") for r in runs.values()
        ),
        "max_executions_non_idempotent": max(
            (len(executions_of(lines, i)) for i, e in history.enqueued.items() if not e.idempotent),
            default=0,
        ),
        "runs_with_more_than_one_attempt": sum(r.attempt > 1 for r in runs.values()),
    }
    report(history, figures)
