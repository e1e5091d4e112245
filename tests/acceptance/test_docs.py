"""Every command shown in the docs is exercised by a test.

The convention these tests rely on (README.md and docs/*.md):

* Commands a user types are in fenced ``console`` blocks, one per line, starting with ``$ ``;
  lines without ``$ `` are example output and are not checked.
* A command that should not exit 0 says so with a trailing marker: ``$ rota run x   # exit 3``.
* A ``python``, ``yaml`` or ``toml`` block whose first line is ``# file: PATH`` is a file the
  reader saves; the test writes it into the project (a leading ``examples/`` names the project
  folder), at that point of the document, so the commands after it find it.

The commands of one document run in order in one fresh copy of ``examples/`` with its own SQLite
database and a real ``rota worker`` in the background, so ``run 1`` in a document is the first
run it starts. A document that does not start with the tour's first run gets it as set-up, so
``run 1`` is ``rota run rates.import -p date=2026-11-20 --wait`` everywhere.

Long-running commands (``rota up``, ``rota worker``) are not run: their ``--help`` must work and
list every option the document gives them. ``make TARGET`` must name a Makefile target, and
``NAME=value`` before a command must name a setting. The worker keeps running while a document
adds jobs, as the reader's ``rota up`` does.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest
from click.testing import CliRunner

from rota.cli.errors import ExitCode
from rota.cli.main import commands
from rota.model.runs import Counters, ProcessStep, Progress, Run, Trigger
from rota.model.status import TRANSITIONS, RunStatus
from rota.settings import Settings

pytestmark = pytest.mark.acceptance

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ROTA = Path(sys.executable).with_name("rota")

FIRST_RUN = "rota run rates.import -p date=2026-11-20 --wait"
FIRST_RUN_EXIT = ExitCode.PARTIAL
LONG_RUNNING = {"up", "web", "worker", "scheduler"}
COMMAND_TIMEOUT = 90.0
FAST_ENGINE = {
    "ROTA_HEARTBEAT_SECONDS": "0.5",
    "ROTA_LEASE_SECONDS": "3",
    "ROTA_POLL_SECONDS": "0.05",
    "ROTA_CANCEL_GRACE_SECONDS": "1",
    "ROTA_SHUTDOWN_GRACE_SECONDS": "1",
}

SETTING_VARIABLES = {f"ROTA_{name.upper()}" for name in Settings.model_fields}

FENCE = re.compile(r"^(`{3,})\s*([\w+-]*)")
EXIT_MARKER = re.compile(r"\s+#\s*exit\s+(\d+)\s*$")
FILE_MARKER = re.compile(r"^#\s*file:\s*(\S+)\s*$")
ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")
FILE_BLOCKS = {"python", "yaml", "toml"}


# -- reading the documents ---------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    where: str
    text: str
    exit_code: int


@dataclass(frozen=True)
class WriteFile:
    where: str
    path: str
    content: str


Step = Command | WriteFile


def steps_of(document: Path) -> list[Step]:
    """The commands and files of one document, in document order."""
    name = document.relative_to(ROOT).as_posix()
    steps: list[Step] = []
    lines = document.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        index += 1
        if not opening:
            continue
        fence, language = opening.groups()
        start = index
        while index < len(lines) and not lines[index].startswith(fence):
            index += 1
        body = lines[start:index]
        index += 1
        if language == "console":
            for offset, line in enumerate(body):
                if line.startswith("$ "):
                    steps.append(_command(f"{name}:{start + offset + 1}", line[2:]))
        elif language in FILE_BLOCKS and body and FILE_MARKER.match(body[0]):
            path = FILE_MARKER.match(body[0]).group(1)  # type: ignore[union-attr]
            steps.append(WriteFile(f"{name}:{start + 1}", path, "\n".join(body) + "\n"))
    return steps


def _command(where: str, text: str) -> Command:
    marker = EXIT_MARKER.search(text)
    if marker:
        return Command(where, text[: marker.start()].strip(), int(marker.group(1)))
    return Command(where, text.strip(), 0)


def _split(command: Command) -> tuple[dict[str, str], list[str]]:
    """Leading ``NAME=value`` assignments (the environment) and the argv."""
    words = shlex.split(command.text, comments=True)
    env: dict[str, str] = {}
    while words and ASSIGNMENT.match(words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    return env, words


def _subcommand(argv: list[str]) -> str | None:
    """The first word after ``rota`` and its global options."""
    takes_value = {"--project", "--database-url"}
    words = iter(argv[1:])
    for word in words:
        if word in takes_value:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w-]*):", text, flags=re.MULTILINE))


# -- running them ------------------------------------------------------------------------------


class Project:
    """A copy of examples/ with its own database and a background worker."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / "project"
        shutil.copytree(
            EXAMPLES, self.folder, ignore=shutil.ignore_patterns(".rota", "__pycache__")
        )
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ROTA_")}
        self.env.update(
            FAST_ENGINE,
            ROTA_PROJECT=str(self.folder),
            ROTA_DATABASE_URL=f"sqlite:///{folder / 'rota.db'}",
            COLUMNS="200",
        )
        self.worker_log = folder / "worker.log"
        self._worker: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def rota(
        self, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run one command in-process (the same Click group the ``rota`` script runs).

        A subprocess costs a second or more of imports per command; the CLI's process-level
        behaviour (signals, exit codes of the real script) is covered by the other acceptance
        tests, which start the real script.
        """
        settings = {k: v for k, v in self.env.items() if k.startswith("ROTA_")}
        cleared = {k: None for k in os.environ if k.startswith("ROTA_")}
        with contextlib.chdir(self.folder):  # relative paths in the docs mean the project's
            result = CliRunner().invoke(
                commands(), argv, env={**cleared, **settings, **(env or {})}, catch_exceptions=False
            )
        return subprocess.CompletedProcess(argv, result.exit_code, result.stdout, result.stderr)

    def start_worker(self) -> None:
        self._log = self.worker_log.open("ab")
        self._worker = subprocess.Popen(
            [str(ROTA), "worker"],
            cwd=self.folder,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def write(self, step: WriteFile) -> None:
        relative = Path(step.path)
        if relative.parts[0] == "examples":
            relative = Path(*relative.parts[1:])
        target = self.folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(step.content, encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    made = Project(tmp_path)
    try:
        yield made
    finally:
        made.stop_worker()


def _report(step: Command, result: subprocess.CompletedProcess[str], project: Project) -> str:
    worker = project.worker_log.read_text(errors="replace") if project.worker_log.exists() else ""
    return (
        f"{step.where}: `{step.text}` exited {result.returncode}, the doc says {step.exit_code}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n--- worker log\n{worker[-3000:]}"
    )


def _check_long_running(step: Command, project: Project, argv: list[str], sub: str) -> None:
    """Not run: its ``--help`` must work and know every option the doc gives it."""
    result = project.rota([sub, "--help"])
    assert result.returncode == 0, _report(step, result, project)
    for word in argv[argv.index(sub) + 1 :]:
        option = word.split("=", 1)[0]
        if option.startswith("-"):
            assert option in result.stdout, f"{step.where}: `rota {sub}` has no option {option}"


def _check_other(step: Command, argv: list[str]) -> None:
    if argv[0] == "make":
        missing = set(argv[1:]) - _makefile_targets()
        assert not missing, f"{step.where}: no Makefile target {sorted(missing)}"
    elif argv[0] == "." and argv[1:] == [".venv/bin/activate"]:
        assert "VENV ?= .venv" in (ROOT / "Makefile").read_text(encoding="utf-8")
    else:
        pytest.fail(f"{step.where}: the test does not know how to check `{step.text}`")


def _prepare(project: Project, steps: list[Step]) -> None:
    for argv in (["db", "upgrade"], ["jobs", "sync"]):
        result = project.rota(argv)
        assert result.returncode == 0, result.stderr
    project.start_worker()
    runs = [s for s in steps if isinstance(s, Command) and s.text.startswith("rota run ")]
    if runs and runs[0].text != FIRST_RUN:
        result = project.rota(shlex.split(FIRST_RUN)[1:])
        assert result.returncode == FIRST_RUN_EXIT, result.stdout + result.stderr


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_command_in_the_document_exits_as_it_says(document: Path, project: Project) -> None:
    steps = steps_of(document)
    if not any(isinstance(s, Command) and s.text.startswith("rota") for s in steps):
        return
    _prepare(project, steps)
    for step in steps:
        if isinstance(step, WriteFile):
            project.write(step)
            continue
        env, argv = _split(step)
        if argv[0] != "rota":
            _check_other(step, argv)
            continue
        unknown = set(env) - SETTING_VARIABLES
        assert not unknown, f"{step.where}: {sorted(unknown)} are not settings"
        sub = _subcommand(argv)
        if sub in LONG_RUNNING:
            _check_long_running(step, project, argv, sub)
            continue
        try:
            result = project.rota(argv[1:], env)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{step.where}: `{step.text}` did not end in {COMMAND_TIMEOUT:g}s")
        assert result.returncode == step.exit_code, _report(step, result, project)


def test_the_docs_show_commands_and_the_tour_starts_with_the_first_run() -> None:
    """Guards the collector itself: a broken fence parser would silently check nothing."""
    tour = [s for s in steps_of(ROOT / "README.md") if isinstance(s, Command)]
    texts = [s.text for s in tour]
    assert FIRST_RUN in texts
    assert "make run" in texts and "make test" in texts
    run_one = tour[texts.index(FIRST_RUN)]
    assert run_one.exit_code == FIRST_RUN_EXIT


# -- reference tables that must match the code -------------------------------------------------


def _table_keys(document: Path, heading: str, pattern: str) -> set[str]:
    """First-column values (in backticks) of the table under ``heading``."""
    text = document.read_text(encoding="utf-8")
    start = text.index(heading)
    section = text[start + len(heading) :]
    following = re.search(r"^#{1,6} ", section, flags=re.MULTILINE)
    if following:
        section = section[: following.start()]
    return set(re.findall(rf"^\|\s*`({pattern})`", section, flags=re.MULTILINE))


def test_the_run_object_in_cli_md_lists_exactly_the_keys_of_run_to_json() -> None:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    blank = {f.name: None for f in fields(Run)}
    run = Run(
        **{  # type: ignore[arg-type]
            **blank,
            "status": RunStatus.QUEUED,
            "trigger": Trigger.MANUAL,
            "progress": Progress(),
            "counters": Counters(),
            "created_at": now,
            "due_at": now,
            # A process run's JSON also has its steps.
            "steps": (ProcessStep(name="load", job="erp.import", state="waiting"),),
        }
    )
    documented = _table_keys(ROOT / "docs" / "cli.md", "## The run object", r"[a-z_]+")
    assert documented == set(run.to_json())


def test_the_settings_tables_list_every_setting() -> None:
    expected = SETTING_VARIABLES
    for document, heading in [
        (ROOT / "docs" / "settings.md", "## Settings"),
        (ROOT / "README.md", "## Configuration"),
    ]:
        assert _table_keys(document, heading, r"ROTA_[A-Z_]+") == expected, document.name


def test_the_exit_code_tables_list_every_exit_code() -> None:
    expected = {str(int(code)) for code in ExitCode}
    for document, heading in [
        (ROOT / "docs" / "cli.md", "## Exit codes"),
        (ROOT / "README.md", "## Exit codes"),
    ]:
        assert _table_keys(document, heading, r"\d+") == expected, document.name


def test_the_status_diagram_in_concepts_md_has_exactly_the_legal_transitions() -> None:
    text = (ROOT / "docs" / "concepts.md").read_text(encoding="utf-8")
    diagram = text.split("```mermaid", 1)[1].split("```", 1)[0]
    drawn = {
        (RunStatus(old), RunStatus(new))
        for old, new in re.findall(r"^\s*(\w+) --> (\w+)", diagram, flags=re.MULTILINE)
    }
    legal = {(old, new) for old, targets in TRANSITIONS.items() for new in targets}
    assert drawn == legal


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_between_the_docs_leads_somewhere(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        assert linked.exists(), f"{document.name}: broken link {target}"
        if anchor:
            headings = re.findall(r"^#{1,6} (.+)$", linked.read_text(encoding="utf-8"), re.M)
            assert anchor in {_anchor(h) for h in headings}, f"{document.name}: no #{anchor}"
