"""Processes, resources, event triggers and webhooks through the real CLI and real ``rota
worker`` / ``rota up`` processes.

Every test works on one small project (``jobs/flow.py`` and ``jobs/flow.yaml`` below, the
example jobs removed). On SQLite its database is migrated and synced once per session and
copied; on PostgreSQL (the crash tests, and the resource test) it is synced through the CLI. The step jobs append a line to ``executions.log`` in the project, so a test counts
what really executed, not only what the store says.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.acceptance.harness import MakeRota, Rota, copy_examples, wait_until, words

from rota.cli.errors import ExitCode
from rota.hooks.signatures import sign_standard
from rota.model.status import RunStatus
from rota.store.base import RunFilter

pytestmark = pytest.mark.acceptance

TERMINAL = ("completed", "partial", "failed", "canceled")

FLOW_PY = '''\
"""Step jobs of the acceptance tests: each notes what it did in executions.log."""

import time
from pathlib import Path

from rota import JobFailed, job

PROJECT = Path(__file__).resolve().parent.parent


def _note(line):
    with (PROJECT / "executions.log").open("a", encoding="utf-8") as out:
        out.write(line + "\\n")


@job(id="etl.extract")
def extract(ctx, day: str):
    _note(f"extract {day} run {ctx.run_id}")
    return {"path": f"exports/{day}.csv"}


@job(id="etl.load")
def load(ctx, file: str):
    _note(f"load {file} run {ctx.run_id}")
    if (PROJECT / "fail-load").exists():
        raise JobFailed("warehouse down", retryable=False)
    return {"loaded": file}


@job(id="etl.report")
def report(ctx):
    _note(f"report run {ctx.run_id}")
    return "sent"


@job(id="crash.step", idempotent=True)
def step(ctx, name: str, seconds: float = 0):
    _note(f"start {name} run {ctx.run_id} attempt {ctx.attempt}")
    time.sleep(seconds)
    _note(f"done {name} run {ctx.run_id} attempt {ctx.attempt}")
    return {"step": name}


def _hold(seconds):
    start = time.time()
    time.sleep(seconds)
    return {"start": start, "end": time.time()}


@job(id="res.import", resources=["erp"])
def erp_import(ctx, seconds: float = 0.3):
    return _hold(seconds)


@job(id="res.update", resources=["erp"])
def erp_update(ctx, seconds: float = 0.3):
    return _hold(seconds)


@job(id="ev.export")
def export(ctx):
    return {"path": "exports/members.csv"}


@job(id="hook.member")
def member(ctx, member: int):
    return {"member": member}
'''

FLOW_YAML = """\
- id: etl.daily
  kind: process
  params:
    day: {type: str, default: "2026-11-20"}
  steps:
    extract: {job: etl.extract, params: {day: "{{ params.day }}"}}
    load:
      job: etl.load
      needs: [extract]
      params: {file: "{{ steps.extract.result.path }}"}
    report: {job: etl.report, needs: [load], when: always}

- id: etl.strict
  kind: process
  steps:
    extract: {job: etl.extract, params: {day: "2026-11-21"}}
    load:
      job: etl.load
      needs: [extract]
      on_error: stop
      params: {file: "{{ steps.extract.result.path }}"}
    report: {job: etl.report, needs: [load]}

- id: crash.linear
  kind: process
  steps:
    s1: {job: crash.step, params: {name: s1}}
    s2: {job: crash.step, needs: [s1], params: {name: s2, seconds: 1.5}}
    s3: {job: crash.step, needs: [s2], params: {name: s3, seconds: 1}}

- id: ev.import
  kind: shell
  params:
    file: str
  command: [echo, "{file}"]
  triggers:
    - on: ev.export
      status: [completed]
      params: {file: "{{ run.result.path }}"}
"""

FLOW_JOBS = {
    "etl.extract",
    "etl.load",
    "etl.report",
    "crash.step",
    "res.import",
    "res.update",
    "ev.export",
    "hook.member",
    "etl.daily",
    "etl.strict",
    "crash.linear",
    "ev.import",
}


def _write_project(project: Path) -> None:
    """The example project's settings with this file's jobs instead of the examples'."""
    shutil.rmtree(project / "jobs")
    shutil.rmtree(project / "calendars")
    (project / "jobs").mkdir()
    (project / "jobs" / "flow.py").write_text(FLOW_PY, encoding="utf-8")
    (project / "jobs" / "flow.yaml").write_text(FLOW_YAML, encoding="utf-8")


def _sync(rota: Rota) -> None:
    synced = rota.json("jobs", "sync")
    assert synced["errors"] == [], synced
    assert {j["job"] for j in synced["jobs"]} == FLOW_JOBS, synced


@pytest.fixture(scope="session")
def flow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated and synced with the flow project once per session."""
    root = tmp_path_factory.mktemp("flow-template")
    template = Rota(
        project=copy_examples(root / "project"),
        database_url=f"sqlite:///{root}/rota.db",
        logs=root,
    )
    try:
        _write_project(template.project)
        template.ok("db", "upgrade")
        _sync(template)
    finally:
        template.close()
    return root / "rota.db"


def _install(make_rota: MakeRota, template: Path, database_url: str | None = None) -> Rota:
    rota = make_rota(database_url=database_url)
    _write_project(rota.project)
    if rota.database_url.startswith("sqlite:///"):
        database = Path(rota.database_url.removeprefix("sqlite:///"))
        shutil.copyfile(template, database)
        wal = template.with_name(template.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, database.with_name(database.name + "-wal"))
    else:  # a migrated, empty PostgreSQL database
        _sync(rota)
    return rota


@pytest.fixture
def flow(make_rota: MakeRota, flow_template: Path) -> Rota:
    """The flow project on its own copy of the synced SQLite database."""
    return _install(make_rota, flow_template)


@pytest.fixture
def any_flow(make_rota: MakeRota, flow_template: Path, database_url: str) -> Rota:
    """The flow project, synced, on SQLite and on PostgreSQL."""
    return _install(make_rota, flow_template, database_url)


def executions(rota: Rota) -> list[str]:
    log = rota.project / "executions.log"
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def steps_by_name(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in run["steps"]}


def start_process(rota: Rota, job: str, *params: str) -> dict[str, Any]:
    """``rota run PROCESS --json``: a process run starts at once (its first steps queued)."""
    args = [a for p in params for a in ("-p", p)]
    created: dict[str, Any] = rota.json("run", job, *args)
    assert created["status"] == "running", created
    return created


def step_run_id(rota: Rota, process_id: int, step: str) -> int | None:
    run = rota.get_run(process_id)
    if run is None:
        return None
    return next((s.run_id for s in run.steps if s.name == step), None)


# -- processes -----------------------------------------------------------------------------------


def test_a_process_is_listed_shown_and_runs_its_steps_in_order_passing_results_on(
    flow: Rota,
) -> None:
    rota = flow
    listed = {p["id"]: p for p in rota.json("processes", "list")}
    assert set(listed) == {"etl.daily", "etl.strict", "crash.linear"}
    assert [s["name"] for s in listed["etl.daily"]["spec"]["steps"]] == [
        "extract",
        "load",
        "report",
    ]
    shown = rota.json("processes", "show", "etl.daily")
    assert (shown["id"], shown["kind"], shown["version"]) == ("etl.daily", "process", 1)
    steps = {s["name"]: s for s in shown["spec"]["steps"]}
    assert steps["load"]["needs"] == ["extract"]
    assert steps["load"]["params"] == {"file": "{{ steps.extract.result.path }}"}
    assert (steps["report"]["needs"], steps["report"]["when"]) == (["load"], "always")
    assert [p["name"] for p in shown["params"]] == ["day"]
    not_a_process = rota("processes", "show", "etl.load", "--json")
    assert not_a_process.code == ExitCode.BAD_INPUT, not_a_process

    rota.worker()
    run = rota.json("run", "etl.daily", "-p", "day=2026-11-19", "--wait")

    assert (run["status"], run["job"]) == ("completed", "etl.daily"), run
    assert [(s["name"], s["state"], s["status"]) for s in run["steps"]] == [
        ("extract", "started", "completed"),
        ("load", "started", "completed"),
        ("report", "started", "completed"),
    ]
    ids = {s["name"]: s["run_id"] for s in run["steps"]}
    assert all(isinstance(i, int) for i in ids.values()) and len(set(ids.values())) == 3
    load = rota.show(ids["load"])
    assert load["params"] == {"file": "exports/2026-11-19.csv"}
    assert (load["trigger"], load["parent_id"], load["step"]) == ("process", run["id"], "load")
    assert executions(rota) == [
        f"extract 2026-11-19 run {ids['extract']}",
        f"load exports/2026-11-19.csv run {ids['load']}",
        f"report run {ids['report']}",
    ]

    text = words(rota.ok("runs", "show", str(run["id"])).out)
    assert f"etl.daily #{run['id']} completed" in text, text
    for name, job in (("extract", "etl.extract"), ("load", "etl.load"), ("report", "etl.report")):
        assert f"{name} ({job}) completed run {ids[name]}" in text, text


def test_a_failed_step_stops_the_process_and_a_retry_keeps_the_steps_that_completed(
    flow: Rota,
) -> None:
    rota = flow
    (rota.project / "fail-load").touch()
    rota.worker()

    failed = rota.json("run", "etl.strict", "--wait", code=ExitCode.FAILED)

    assert failed["status"] == "failed", failed
    assert failed["reason"] == "step load failed"
    steps = steps_by_name(failed)
    assert (steps["extract"]["state"], steps["extract"]["status"]) == ("started", "completed")
    assert (steps["load"]["state"], steps["load"]["status"]) == ("started", "failed")
    assert (steps["report"]["state"], steps["report"]["run_id"]) == ("skipped", None)
    assert failed["retryable"] is True
    extracted = steps["extract"]["run_id"]

    (rota.project / "fail-load").unlink()
    rerun = rota.json("runs", "retry", str(failed["id"]), "--wait")

    assert rerun["status"] == "completed", rerun
    assert (rerun["retry_of"], rerun["trigger"]) == (failed["id"], "retry")
    again = steps_by_name(rerun)
    assert (again["extract"]["state"], again["extract"]["run_id"]) == ("kept", extracted)
    assert again["extract"]["status"] == "completed"
    assert (again["load"]["state"], again["load"]["status"]) == ("started", "completed")
    assert again["load"]["run_id"] not in (None, steps["load"]["run_id"])
    assert (again["report"]["state"], again["report"]["status"]) == ("started", "completed")
    # The kept step ran once in all; the failed one twice, the skipped one once (on the rerun).
    lines = executions(rota)
    assert [line.split()[0] for line in lines] == ["extract", "load", "load", "report"], lines
    reloaded = rota.show(again["load"]["run_id"])
    assert reloaded["params"] == {"file": "exports/2026-11-21.csv"}
    assert reloaded["parent_id"] == rerun["id"]


# -- a worker killed in the middle of a process --------------------------------------------------


CAUGHT = {"s1-completed": "s2", "s2-running": "s2", "s2-completed": "s3"}
"""When the worker is killed, and the step the kill may catch claimed or running."""
CRASHES = [
    pytest.param("sqlite", "s2-running", id="sqlite-s2-running"),
    *(
        pytest.param("postgresql", moment, marks=pytest.mark.postgres, id=f"postgresql-{moment}")
        for moment in CAUGHT
    ),
]


@pytest.mark.parametrize(("database_url", "moment"), CRASHES, indirect=["database_url"])
def test_a_process_survives_its_worker_killed_and_each_step_runs_once(
    any_flow: Rota, moment: str
) -> None:
    rota = any_flow
    first = rota.worker("worker-a")
    process = start_process(rota, "crash.linear")
    pid = process["id"]
    s1 = steps_by_name(process)["s1"]["run_id"]
    assert isinstance(s1, int)

    if moment == "s1-completed":
        rota.wait_for_status(s1, "completed")
    elif moment == "s2-running":
        wait_until(
            lambda: any(line.startswith("start s2") for line in executions(rota)),
            interval=0.05,
            what="step s2 to start",
            describe=rota.describe(pid),
        )
        time.sleep(0.2)  # well inside its 1.5s
    else:
        s2 = wait_until(
            lambda: step_run_id(rota, pid, "s2"), what="step s2", describe=rota.describe(pid)
        )
        assert s2 is not None
        rota.wait_for_status(s2, "completed")
    first.kill()
    before = rota.get_run(pid)
    assert before is not None and before.status is RunStatus.RUNNING, rota.describe(pid)()
    rota.worker("worker-b")

    rota.wait_for_status(pid, *TERMINAL)
    shown = rota.show(pid)
    assert shown["status"] == "completed", shown
    assert [(s["name"], s["state"], s["status"]) for s in shown["steps"]] == [
        ("s1", "started", "completed"),
        ("s2", "started", "completed"),
        ("s3", "started", "completed"),
    ]
    ids = {s["name"]: s["run_id"] for s in shown["steps"]}
    assert ids["s1"] == s1
    # Exactly one run per step: the store started each step once, crash or not.
    runs = rota.json("runs", "list", "--job", "crash.step")
    assert sorted((r["step"], r["id"]) for r in runs) == sorted(ids.items()), runs
    assert all(r["parent_id"] == pid and r["status"] == "completed" for r in runs), runs
    attempts = {r["step"]: r["attempt"] for r in runs}
    # Only the step the kill could catch running has a second attempt (of its one run).
    caught = CAUGHT[moment]
    assert all(n == 1 for name, n in attempts.items() if name != caught), runs
    assert attempts[caught] == 2 if moment == "s2-running" else attempts[caught] in (1, 2), runs
    if attempts[caught] == 2:
        again = rota.show(ids[caught])
        assert [(a["number"], a["outcome"]) for a in again["attempts"]] == [
            (1, "worker lost"),
            (2, "completed"),
        ], again

    # What executed: each step's job completed exactly once, in order; a step started again
    # only as a later attempt of its one run, never as another run.
    lines = executions(rota)
    done = [line for line in lines if line.startswith("done")]
    assert done == [
        f"done {name} run {ids[name]} attempt {attempts[name]}" for name in ("s1", "s2", "s3")
    ], lines
    for name in ("s1", "s2", "s3"):
        started = [line for line in lines if line.startswith(f"start {name} ")]
        numbers = [int(line.rsplit(" ", 1)[1]) for line in started]
        assert started == [f"start {name} run {ids[name]} attempt {n}" for n in numbers], lines
        assert numbers == sorted(set(numbers)) and numbers[-1] == attempts[name], lines
    order = [line.split()[:2] for line in lines]
    assert order.index(["done", "s1"]) < order.index(["start", "s2"]), lines
    assert order.index(["done", "s2"]) < order.index(["start", "s3"]), lines


# -- resources -----------------------------------------------------------------------------------


def _interval(run: dict[str, Any]) -> tuple[datetime, datetime]:
    return (
        datetime.fromisoformat(run["started_at"].replace("Z", "+00:00")),
        datetime.fromisoformat(run["finished_at"].replace("Z", "+00:00")),
    )


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_runs_holding_one_exclusive_resource_never_overlap_and_waiters_say_why(
    any_flow: Rota,
) -> None:
    """Six runs of two jobs holding one exclusive resource, on two worker slots (PostgreSQL
    only, to keep the suite short; tests/integration/test_resources.py covers both backends)."""
    rota = any_flow
    jobs = ["res.import", "res.update"] * 3
    created = [rota.json("run", job) for job in jobs]
    ids = [r["id"] for r in created]
    # Nobody runs anything yet: the first run holds the resource, the others wait in order.
    assert [r["status"] for r in created] == ["queued"] + ["pending"] * 5, created
    [erp] = [r for r in rota.json("resources", "list") if r["name"] == "erp"]
    assert (erp["capacity"], erp["used"]) == (1, 1), erp
    assert [(h["run_id"], h["job"], h["shared"]) for h in erp["holders"]] == [
        (ids[0], "res.import", False)
    ]
    assert [(w["run_id"], w["job"]) for w in erp["waiters"]] == list(
        zip(ids[1:], jobs[1:], strict=True)
    )
    waiter = rota.show(ids[1])
    assert waiter["status"] == "pending", waiter
    waiting = waiter["waiting_for"]
    assert waiting["resources"] == ["erp"] and waiting["held_by"] == [ids[0]], waiting
    assert "erp" in waiting["reason"] and f"run {ids[0]}" in waiting["reason"], waiting

    rota.spawn("worker", "--concurrency", "2", name="worker")
    for run_id in ids:
        rota.wait_for_status(run_id, *TERMINAL)

    ended = {r["id"]: r for r in rota.json("runs", "list", "--limit", "100") if r["id"] in ids}
    assert [ended[i]["status"] for i in ids] == ["completed"] * 6, ended
    runs = [ended[i] for i in ids]
    for n, a in enumerate(runs):
        for b in runs[n + 1 :]:
            (s1, e1), (s2, e2) = _interval(a), _interval(b)
            assert not (s1 < e2 and s2 < e1), (a["id"], b["id"], _interval(a), _interval(b))
            held_a, held_b = a["result"], b["result"]  # the job's own clock, inside the job
            assert not (held_a["start"] < held_b["end"] and held_b["start"] < held_a["end"]), (
                a["id"],
                b["id"],
                held_a,
                held_b,
            )
    after = next(r for r in rota.json("resources", "list") if r["name"] == "erp")
    assert (after["used"], after["holders"], after["waiters"]) == (0, [], []), after


# -- event triggers ------------------------------------------------------------------------------


def test_an_ended_run_triggers_its_follower_once_with_parameters_from_its_result(
    flow: Rota,
) -> None:
    rota = flow
    triggers = rota.json("triggers", "list")
    assert triggers == [
        {
            "id": "ev.import:on:1",
            "on": "ev.export",
            "target": "ev.import",
            "status": ["completed"],
            "params": {"file": "{{ run.result.path }}"},
        }
    ]
    rota.worker()

    export = rota.json("run", "ev.export", "--wait")
    assert export["status"] == "completed", export

    follower = wait_until(
        lambda: _runs_of(rota, "ev.import"),
        what="the triggered run",
        describe=rota.process_output,
    )[0]
    rota.wait_for_status(follower, *TERMINAL)
    runs = rota.json("runs", "list", "--job", "ev.import")
    assert [r["id"] for r in runs] == [follower], runs
    [run] = runs
    assert run["status"] == "completed", run
    assert run["params"] == {"file": "exports/members.csv"}
    assert (run["trigger"], run["triggered_by"]) == ("event", f"run {export['id']}")
    assert "exports/members.csv" in rota.ok("runs", "logs", str(follower)).out


def _runs_of(rota: Rota, job: str) -> list[int]:
    return [r.id for r in rota.store.list_runs(RunFilter(job=job))]


# -- webhooks through rota up --------------------------------------------------------------------


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return response.status, answer
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read() or b"{}")


def signed(secret: str, body: bytes, message_id: str | None = None) -> dict[str, str]:
    headers = sign_standard(
        secret, message_id or f"msg_{uuid.uuid4().hex}", datetime.now(UTC), body
    )
    return {**headers, "Content-Type": "application/json"}


BODY = json.dumps({"member": {"id": 7}}).encode()


def test_a_signed_webhook_starts_a_run_once_and_a_rotated_secret_replaces_the_old_one(
    flow: Rota,
) -> None:
    rota = flow
    created = rota.json(
        "hooks",
        "create",
        "hook.member",
        "--id",
        "members",
        "--params",
        '{"member": "{{ payload.member.id }}"}',
    )
    secret = created["secret"]
    assert secret.startswith("whsec_"), created
    assert (created["id"], created["job"], created["path"]) == (
        "members",
        "hook.member",
        "/hooks/members",
    )
    listed = rota("hooks", "list", "--json")
    assert listed.code == 0, listed
    assert secret not in listed.out
    [hook] = listed.json()
    assert hook["params"] == {"member": "{{ payload.member.id }}"}
    assert not any("secret" in key for key in hook if key != "previous_secret_valid_until")

    up = rota.spawn("up", "--port", "0", name="up")
    base = rota.wait_for_output(up, r"webhooks: (http://127\.0\.0\.1:\d+)/hooks/ID")
    url = f"{base}/hooks/members"

    headers = signed(secret, BODY)
    code, answer = post(url, BODY, headers)
    assert (code, answer["replay"]) == (202, False), answer
    run_id = answer["run_id"]
    code, answer = post(url, BODY, headers)  # the sender retries the same delivery
    assert (code, answer["run_id"], answer["replay"]) == (200, run_id, True), answer
    code, answer = post(url, BODY, signed("whsec_" + "A" * 43 + "=", BODY))
    assert (code, answer["type"]) == (401, "signature"), answer

    rota.wait_for_status(run_id, *TERMINAL)
    run = rota.show(run_id)
    assert (run["job"], run["status"], run["params"]) == ("hook.member", "completed", {"member": 7})
    assert (run["trigger"], run["triggered_by"]) == ("webhook", "hook members")
    assert run["result"] == {"member": 7}

    rotated = rota.json("hooks", "rotate-secret", "members", "--keep-previous-hours", "0")
    new_secret = rotated["secret"]
    assert new_secret not in (secret, None)
    assert post(url, BODY, signed(secret, BODY))[0] == 401
    code, answer = post(url, BODY, signed(new_secret, BODY))
    assert (code, answer["replay"]) == (202, False), answer
    second = answer["run_id"]
    assert second != run_id

    listed = rota("hooks", "list", "--json")
    assert secret not in listed.out and new_secret not in listed.out, listed
    assert listed.json()[0]["rotated_at"] is not None
    runs = rota.json("runs", "list", "--job", "hook.member")
    assert sorted(r["id"] for r in runs) == sorted([run_id, second]), runs
    assert all(r["trigger"] == "webhook" for r in runs)


# -- loops ---------------------------------------------------------------------------------------

LOOP = """\
- id: loop.a
  kind: shell
  command: [echo, a]
  triggers: [{on: loop.b}]
- id: loop.b
  kind: shell
  command: [echo, b]
  triggers: [{on: loop.a}]
"""
LOOP_WORDS = re.compile(r"loop: (loop\.a -> loop\.b -> loop\.a|loop\.b -> loop\.a -> loop\.b)")


def test_jobs_that_trigger_each_other_are_refused_naming_the_loop(flow: Rota) -> None:
    rota = flow
    rota.add_job_file("loop.yaml", LOOP)

    report = rota.json("jobs", "sync", code=ExitCode.BAD_INPUT)

    errors = report["errors"]
    assert [e["source"] for e in errors] == ["jobs/loop.yaml"] * 2, errors
    assert all(LOOP_WORDS.search(e["reason"]) for e in errors), errors
    synced = {j["job"] for j in report["jobs"]}
    assert not synced & {"loop.a", "loop.b"}, report  # both triggers close it: both refused
    assert synced >= FLOW_JOBS
    text = rota("jobs", "sync")
    assert text.code == ExitCode.BAD_INPUT, text
    assert LOOP_WORDS.search(text.err_words), text
    # What the store knows cannot start itself again.
    stored = rota.json("triggers", "list")
    assert not _trigger_loop(stored), stored


def _trigger_loop(triggers: list[dict[str, Any]]) -> bool:
    """Whether the listed (job-to-job) triggers form a cycle."""
    edges: dict[str, set[str]] = {}
    for t in triggers:
        edges.setdefault(t["on"], set()).add(t["target"])

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    return any(reaches(job, job, {job}) for job in edges)


def test_a_loop_closed_by_changing_one_of_two_synced_jobs_is_not_stored(flow: Rota) -> None:
    rota = flow
    rota.add_job_file("loop.yaml", LOOP.replace("  triggers: [{on: loop.b}]\n", ""))
    rota.ok("jobs", "sync")
    rota.add_job_file("loop.yaml", LOOP)

    report = rota.json("jobs", "sync", code=ExitCode.BAD_INPUT)

    assert any(LOOP_WORDS.search(e["reason"]) for e in report["errors"]), report
    stored = rota.json("triggers", "list")
    assert not _trigger_loop(stored), stored


def test_the_trigger_table_shows_trigger_ids_as_they_are(flow: Rota) -> None:
    table = flow.ok("triggers", "list")
    assert "ev.import:on:1" in table.out, table
