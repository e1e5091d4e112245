"""Scenario 4: lost database connections. Two ``rota worker`` processes drain runs while every
Rota connection to the database is killed (``pg_terminate_backend``) every few seconds; with
``ROTA_FAULTS_RESTART_POSTGRES=1`` (``make faults`` on a machine of its own) PostgreSQL is
also restarted once. Nothing is lost or done twice, and the workers are back at work soon
after the database is."""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from tests.conftest import _libpq_url
from tests.integration.conftest import write_project

from rota.model.status import RunStatus
from rota.services.jobs import sync_project
from rota.services.runs import start_run
from rota.store import Store, open_store
from rota.store.base import RunFilter

pytestmark = pytest.mark.postgres

JOBS = """
import os
from pathlib import Path
from rota import job

@job(id="conn.note")
def note(ctx, folder: str):
    with open(Path(folder) / "executions", "a") as out:
        out.write(f"{ctx.run_id}\\n")
        out.flush()
        os.fsync(out.fileno())
"""


def _worker(project: Path, url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROTA_")}
    env.update(
        ROTA_PROJECT=str(project),
        ROTA_DATABASE_URL=url,
        ROTA_HEARTBEAT_SECONDS="0.5",
        ROTA_LEASE_SECONDS="5",
        ROTA_POLL_SECONDS="0.05",
        ROTA_WORKER_CONCURRENCY="2",
    )
    rota = Path(sys.executable).parent / "rota"
    with log.open("wb") as out:
        return subprocess.Popen([str(rota), "worker"], env=env, stdout=out, stderr=out)


def _terminate_all(url: str) -> int:
    with psycopg.connect(_libpq_url(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def _restart_postgres() -> None:
    clusters = os.listdir("/etc/postgresql")
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", clusters[0], "main", "restart"],
        check=True,
        timeout=120,
    )


def test_killed_connections_lose_nothing_and_do_nothing_twice(
    postgres_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write_project(tmp_path, {"conn.py": JOBS})
    folder = tmp_path / "out"
    folder.mkdir()
    store: Store = open_store(postgres_database)
    rng = random.Random(int(os.environ.get("ROTA_FAULTS_SEED", "5")))
    total = int(os.environ.get("ROTA_FAULTS_CONNECTION_RUNS", "300"))
    restart = os.environ.get("ROTA_FAULTS_RESTART_POSTGRES") == "1"
    killed = [0]
    stop = threading.Event()

    def killer() -> None:
        while not stop.wait(rng.uniform(2.0, 5.0)):
            with contextlib.suppress(psycopg.Error):  # the database is restarting
                killed[0] += _terminate_all(postgres_database)

    try:
        assert not sync_project(store, project).errors
        workers = [
            _worker(project, postgres_database, tmp_path / f"worker{n}.log") for n in range(2)
        ]
        thread = threading.Thread(target=killer, daemon=True)
        try:
            thread.start()
            ids = []
            for n in range(total):
                for _attempt in range(50):  # the enqueuer is a client: it retries too
                    try:
                        ids.append(start_run(store, "conn.note", {"folder": str(folder)}).id)
                        break
                    except Exception:
                        time.sleep(0.2)
                else:
                    pytest.fail("could not enqueue for 10 s")
                if restart and n == total // 2:
                    _restart_postgres()
                time.sleep(0.01)
            back = time.monotonic()
            deadline = back + 120
            while time.monotonic() < deadline:
                try:
                    ended = store.list_runs(RunFilter(job="conn.note", limit=10_000))
                except Exception:
                    time.sleep(0.5)
                    continue
                if len(ended) == total and all(r.status.terminal for r in ended):
                    break
                time.sleep(0.5)
        finally:
            stop.set()
            thread.join(10)
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(30)
        runs = store.list_runs(RunFilter(job="conn.note", limit=10_000))
        history = {r.id: store.get_history(r.id) for r in runs}
    finally:
        store.close()
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("worker*.log"))
    executions = Counter(int(x) for x in (folder / "executions").read_text().split())
    statuses = Counter(r.status for r in runs)
    with capsys.disabled():
        print(
            f"\nconnections: {total} runs, {killed[0]} connections killed"
            f"{', PostgreSQL restarted once' if restart else ''}; statuses "
            f"{ {k.value: v for k, v in statuses.items()} }; executed twice: "
            f"{sum(1 for c in executions.values() if c > 1)}"
        )
    assert sorted(r.id for r in runs) == sorted(ids), "an acknowledged run is missing"
    assert statuses == {RunStatus.COMPLETED: total}, logs
    assert all(count == 1 for count in executions.values()), executions.most_common(3)
    assert set(executions) == set(ids)
    for run_id, changes in history.items():
        assert sum(1 for c in changes if c.to_status.terminal) == 1, (run_id, changes)
