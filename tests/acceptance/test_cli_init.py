"""``rota init`` through the real CLI: a new project whose jobs work as they are, and a folder
that already holds a project (or any file init would write) is refused and left untouched."""

from __future__ import annotations

import re
import sqlite3
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from tests.acceptance.harness import Rota

from rota.cli.main import commands
from rota.settings import Settings, load_settings

pytestmark = pytest.mark.acceptance

CREATED = [
    ".gitignore",
    "README.md",
    "data/contacts.csv",
    "data/local.db",
    "data/schema.sql",
    "data/tmp/README.txt",
    "data/tmp/report-1.tmp",
    "data/tmp/report-2.tmp",
    "jobs/cleanup.yaml",
    "jobs/contacts.yaml",
    "jobs/hello.py",
    "rota.toml",
]
JOBS = {"hello.world", "tmp.cleanup", "contacts.import"}
CONTACTS = [
    ("ada.lovelace@example.org", "Ada Lovelace", "United Kingdom", "2025-12-10"),
    ("alan.turing@example.org", "Alan Turing", "Unknown", "2026-02-20"),
    ("emmy.noether@example.org", "Emmy Noether", "Germany", "2026-01-15"),
    ("grace.hopper@example.org", "Grace Hopper", "United States", "2026-01-03"),
    ("marie.curie@example.org", "Marie Curie", "France", "2026-02-02"),
]


def _has_jobs_check() -> bool:
    jobs = commands().commands.get("jobs")
    return isinstance(jobs, click.Group) and "check" in jobs.commands


MakeProject = Callable[[Path], Rota]


@pytest.fixture
def make_project(tmp_path: Path) -> Iterator[MakeProject]:
    """A :class:`Rota` whose commands run in ``folder`` (created empty if missing), with the
    project's own default database, ``.rota/rota.db``."""
    made: list[Rota] = []

    def make(folder: Path) -> Rota:
        folder.mkdir(parents=True, exist_ok=True)
        logs = tmp_path / f"logs{len(made) + 1}"
        logs.mkdir()
        rota = Rota(project=folder, database_url=f"sqlite:///{folder}/.rota/rota.db", logs=logs)
        made.append(rota)
        return rota

    yield make
    for rota in made:
        rota.close()


def files_of(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def snapshot(folder: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every entry of ``folder`` (the folder itself included): its bytes and mtime."""
    return {
        path.relative_to(folder).as_posix(): (
            None if path.is_dir() else path.read_bytes(),
            path.stat().st_mtime_ns,
        )
        for path in [folder, *folder.rglob("*")]
    }


def contacts(project: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(project / "data" / "local.db") as db:
        return db.execute("SELECT * FROM contacts ORDER BY email").fetchall()


def test_it_creates_a_project_whose_jobs_run_as_they_are(
    make_project: MakeProject, tmp_path: Path
) -> None:
    rota = make_project(tmp_path / "project")

    created = rota.ok("init")

    assert files_of(rota.project) == CREATED
    assert "rota db upgrade" in created.out and "rota run hello.world --wait" in created.out
    assert contacts(rota.project) == []
    rota.ok("db", "upgrade")
    synced = rota.json("jobs", "sync")
    assert synced["errors"] == []
    assert {(j["job"], j["change"]) for j in synced["jobs"]} == {(job, "new") for job in JOBS}
    rota.worker()

    hello = rota.json("run", "hello.world", "--wait")
    assert (hello["status"], hello["result"]) == ("completed", {"greeted": "world", "times": 3})
    assert hello["counters"]["inserted"] == 3
    ada = rota.json("run", "hello.world", "-p", "name=Ada", "-p", "times=2", "--wait")
    assert ada["result"] == {"greeted": "Ada", "times": 2}
    assert "hello, Ada (2 of 2)" in rota.ok("runs", "logs", str(ada["id"])).out

    imported = rota.json("run", "contacts.import", "--wait")
    assert imported["status"] == "completed"
    assert (imported["counters"]["inserted"], imported["counters"]["failed"]) == (5, 0)
    assert contacts(rota.project) == CONTACTS
    again = rota.json("run", "contacts.import", "--wait")
    assert again["status"] == "completed"
    assert (again["counters"]["unchanged"], again["counters"]["inserted"]) == (5, 0)
    assert again["data_changed"] is False

    refused = rota("run", "tmp.cleanup")
    assert refused.code == 2, refused
    assert "destructive" in refused.err_words
    cleaned = rota.json("run", "tmp.cleanup", "--yes", "--wait")
    assert cleaned["status"] == "completed"
    assert files_of(rota.project / "data" / "tmp") == ["README.txt"]
    logs = rota.ok("runs", "logs", str(cleaned["id"])).out
    assert "data/tmp/report-1.tmp" in logs and "data/tmp/report-2.tmp" in logs


@pytest.mark.xfail(not _has_jobs_check(), strict=False, reason="rota jobs check lands separately")
def test_rota_jobs_check_passes_on_a_new_project(make_project: MakeProject, tmp_path: Path) -> None:
    rota = make_project(tmp_path / "project")
    rota.ok("init")
    rota.ok("db", "upgrade")
    rota.ok("jobs", "sync")

    checks = rota.json("jobs", "check")

    assert {c["job"] for c in checks} == JOBS
    assert [c for c in checks if c["status"] != "ok"] == []


def test_the_commented_settings_are_the_defaults_and_every_setting_is_there(
    make_project: MakeProject, tmp_path: Path
) -> None:
    rota = make_project(tmp_path / "project")
    rota.ok("init")
    config = rota.project / "rota.toml"
    text = config.read_text(encoding="utf-8")
    names = {
        "data_folders": "folders",
        "connections": "[connections]",
        "resources": "[resources]",
        "limits": "[limits.groups]",
        "outgoing_allow": "[outgoing]",
        "smtp_password": "ROTA_SMTP_PASSWORD",
        **{f"smtp_{k}": f"# {k} = " for k in ("host", "port", "sender", "username", "security")},
        "smtp_timeout": "# timeout = ",
    }
    for name in Settings.model_fields:
        wanted = "ROTA_SECRET_KEY" if name == "secret_key" else names.get(name, name)
        assert wanted in text, f"rota.toml does not mention {name}"

    as_is = load_settings(rota.project)
    assert as_is.connections == {"local": "sqlite:///data/local.db"}
    assert as_is.data_folders == [Path("data")]
    # Remove the `#` in front of every setting of [rota]: each is its default (but the examples).
    examples = ("database_url", "project")
    rota_table = text.split("[connections]")[0]
    uncommented = re.sub(
        r"^# ([a-z_]+ = .+)$",
        lambda m: m.group(0) if m.group(1).startswith(examples) else m.group(1),
        rota_table,
        flags=re.MULTILINE,
    )
    config.write_text(uncommented, encoding="utf-8")
    live = set(tomllib.loads(uncommented)["rota"])
    outside = {*examples, "secret_key", "connections", "data_folders", "resources", "limits"}
    outside |= {"outgoing_allow", *(n for n in Settings.model_fields if n.startswith("smtp_"))}
    assert live == set(Settings.model_fields) - outside
    assert load_settings(rota.project) == Settings(project=rota.project.resolve())


def test_the_commented_schedules_work_when_switched_on(
    make_project: MakeProject, tmp_path: Path
) -> None:
    rota = make_project(tmp_path / "project")
    rota.ok("init")
    hello = rota.project / "jobs" / "hello.py"
    code = hello.read_text(encoding="utf-8")
    code = code.replace(
        "from rota import RunContext, job", "from rota import RunContext, cron, job"
    )
    hello.write_text(code.replace("# schedule=cron(", "schedule=cron("), encoding="utf-8")
    cleanup = rota.project / "jobs" / "cleanup.yaml"
    text = cleanup.read_text(encoding="utf-8")
    cleanup.write_text(
        text.replace("# schedules:\n#   - cron:", "schedules:\n  - cron:"), encoding="utf-8"
    )
    rota.ok("db", "upgrade")

    assert rota.json("jobs", "sync")["errors"] == []

    schedules = rota.json("schedules", "list")
    assert {(s["job"], s["expression"]) for s in schedules} == {
        ("hello.world", "0 7 * * 1-5"),
        ("tmp.cleanup", "0 3 * * *"),
    }


REFUSED = [
    pytest.param({"rota.toml": "[rota]\n"}, "a project (rota.toml)", id="rota.toml"),
    pytest.param({"jobs/": ""}, "a project (jobs/)", id="jobs-folder"),
    pytest.param(
        {"jobs/mine.yaml": "id: x\n", "rota.toml": ""}, "a project (rota.toml, jobs/)", id="both"
    ),
    pytest.param({"README.md": "# mine\n"}, "files rota init would write (README.md)", id="a-file"),
    pytest.param(
        {"data/tmp": "not a folder\n"}, "(data/tmp (not a folder))", id="a-file-for-a-folder"
    ),
]


@pytest.mark.parametrize(("existing", "named"), REFUSED)
def test_it_refuses_a_folder_with_a_project_or_its_files_and_changes_nothing(
    make_project: MakeProject, tmp_path: Path, existing: dict[str, str], named: str
) -> None:
    rota = make_project(tmp_path / "project")
    for name, content in existing.items():
        path = rota.project / name
        if name.endswith("/"):
            path.mkdir()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
    before = snapshot(rota.project)

    result = rota("init")

    assert result.code == 2, result
    assert named in result.err_words
    assert "nothing was written" in result.err_words
    assert snapshot(rota.project) == before


def test_it_refuses_to_init_a_project_twice(make_project: MakeProject, tmp_path: Path) -> None:
    rota = make_project(tmp_path / "project")
    rota.ok("init")
    (rota.project / "jobs" / "hello.py").write_text("# my own job\n", encoding="utf-8")
    before = snapshot(rota.project)

    result = rota("init", str(rota.project))

    assert result.code == 2, result
    assert "already has a project (rota.toml, jobs/)" in result.err_words
    assert snapshot(rota.project) == before


def test_it_creates_a_missing_folder_and_lists_the_files_as_json(
    make_project: MakeProject, tmp_path: Path
) -> None:
    rota = make_project(tmp_path / "work")

    created = rota.json("init", "projects/crm-sync")

    folder = rota.project / "projects" / "crm-sync"
    assert created == {"project": str(folder), "files": CREATED}
    assert files_of(folder) == CREATED
    assert files_of(rota.project) == [f"projects/crm-sync/{name}" for name in CREATED]


def test_it_inits_the_project_option_when_no_folder_is_given(
    make_project: MakeProject, tmp_path: Path
) -> None:
    rota = make_project(tmp_path / "work")

    rota.ok("--project", "elsewhere", "init")

    assert files_of(rota.project / "elsewhere") == CREATED


def test_it_refuses_a_file_as_the_folder(make_project: MakeProject, tmp_path: Path) -> None:
    rota = make_project(tmp_path / "work")
    (rota.project / "notes.txt").write_text("mine\n", encoding="utf-8")
    before = snapshot(rota.project)

    result = rota("init", "notes.txt")

    assert result.code == 2, result
    assert "notes.txt is not a folder" in result.err_words
    assert snapshot(rota.project) == before


def test_a_failure_half_way_removes_what_it_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process: a write that fails after the template files (here: the database) leaves
    no trace, not even the folder it created."""
    from rota.cli import init
    from rota.model.errors import InvalidInputError

    def broken(*_args: object, **_kwargs: object) -> sqlite3.Connection:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(init.sqlite3, "connect", broken)

    with pytest.raises(InvalidInputError, match="disk I/O error"):
        init.create_project(tmp_path / "new" / "project")

    assert list(tmp_path.iterdir()) == []
