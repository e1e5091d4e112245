"""Shell and HTTP executors, run directly with a fake reporter: no worker, no database."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.http_server import loopback_allowed

from rota.jobs.executors import executor_for
from rota.jobs.executors.base import Attempt, HardStop, RunControl
from rota.jobs.executors.http import EXCERPT_CHARS, HttpExecutor
from rota.jobs.executors.shell import ShellExecutor
from rota.model.errors import JobFailed, RunCancelled
from rota.model.jobs import JobDefinition, JobKind


class FakeReporter:
    """Collects every report; thread-safe because output pumps report from their threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.logs: list[tuple[str, str]] = []
        self.infos: list[dict[str, Any]] = []
        self.external_calls: list[tuple[str, str]] = []
        self.progresses: list[tuple[int, int | None, str | None]] = []
        self.records: list[tuple[str, str, str | None]] = []
        self.state: Any = None

    def log(self, level: str, message: str, at: float | None = None) -> None:
        with self._lock:
            self.logs.append((level, message))

    def progress(self, done: int, total: int | None, message: str | None) -> None:
        self.progresses.append((done, total, message))

    def record(self, key: str, action: str, error: str | None) -> None:
        self.records.append((key, action, error))

    def info(self, values: dict[str, Any]) -> None:
        self.infos.append(values)

    def external_call(self, system: str, what: str, at: float | None = None) -> None:
        self.external_calls.append((system, what))

    def save_state(self, state: Any) -> None:
        self.state = state

    def load_state(self) -> Any:
        return self.state

    def messages(self, level: str | None = None) -> list[str]:
        with self._lock:
            return [m for lv, m in self.logs if level is None or lv == level]


def attempt(kind: JobKind, spec: dict[str, Any], project: Path, **params: Any) -> Attempt:
    definition = JobDefinition(id="t.job", kind=kind, spec=spec)
    return Attempt(definition=definition, run_id=7, attempt=2, params=params, project=project)


def control(timeout: float | None = 10.0, cancel_grace: float = 5.0) -> RunControl:
    return RunControl(timeout=timeout, cancel_grace=cancel_grace)


# -- shell ---------------------------------------------------------------------------------------


def shell_spec(*command: str, inherit: tuple[str, ...] = ("PATH",), **env: str) -> dict[str, Any]:
    return {"command": list(command), "env": {"inherit": list(inherit), "set": env}, "cwd": None}


def run_shell(
    project: Path, spec: dict[str, Any], run_control: RunControl | None = None, **params: Any
) -> tuple[Any, FakeReporter]:
    reporter = FakeReporter()
    result = ShellExecutor().execute(
        attempt(JobKind.SHELL, spec, project, **params), reporter, run_control or control()
    )
    return result, reporter


def is_gone(pid: int) -> bool:
    """The process does not exist anymore, or is a zombie waiting for its reaper."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def wait_until_gone(pid: int, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if is_gone(pid):
            return True
        time.sleep(0.02)
    return is_gone(pid)


def test_it_streams_the_output_of_a_command_into_the_log(tmp_path: Path) -> None:
    result, reporter = run_shell(tmp_path, shell_spec("echo", "hello world"))
    assert result == {"exit_code": 0}
    assert reporter.messages() == ["$ echo hello world", "hello world"]
    assert reporter.logs[1] == ("INFO", "hello world")


def test_it_logs_standard_error_as_warnings(tmp_path: Path) -> None:
    _, reporter = run_shell(tmp_path, shell_spec("sh", "-c", "echo oops >&2; echo fine"))
    assert reporter.messages("WARNING") == ["oops"]
    assert "fine" in reporter.messages("INFO")


def test_it_fails_the_run_with_the_exit_code(tmp_path: Path) -> None:
    with pytest.raises(JobFailed, match="code 3") as info:
        run_shell(tmp_path, shell_spec("sh", "-c", "exit 3"))
    assert info.value.retryable is True


def test_it_fails_without_retry_when_the_program_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(JobFailed, match="cannot start 'no-such-program-here'") as info:
        run_shell(tmp_path, shell_spec("no-such-program-here"))
    assert info.value.retryable is False


def test_it_passes_params_as_whole_arguments_without_a_shell(tmp_path: Path) -> None:
    value = "a b; echo pwned $(id) `id` *"
    spec = shell_spec("printf", "[%s]\\n", "{x}", "{items}", "{none}")
    _, reporter = run_shell(tmp_path, spec, x=value, items=["1", "2 3"], none=None)
    assert reporter.messages("INFO")[1:] == [f"[{value}]", "[1]", "[2 3]"]


def test_it_does_not_pass_variables_outside_the_allow_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET", "s3cret")
    with pytest.raises(JobFailed, match="code 1"):
        run_shell(tmp_path, shell_spec("printenv", "SECRET"))


def test_it_passes_inherited_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET", "s3cret")
    _, reporter = run_shell(tmp_path, shell_spec("printenv", "SECRET", inherit=("PATH", "SECRET")))
    assert reporter.messages("INFO")[1:] == ["s3cret"]


def test_it_skips_inherited_variables_that_are_not_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SECRET", raising=False)
    with pytest.raises(JobFailed, match="code 1"):
        run_shell(tmp_path, shell_spec("printenv", "SECRET", inherit=("PATH", "SECRET")))


def test_it_sets_the_variables_the_job_declares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET", "from the worker")
    _, reporter = run_shell(tmp_path, shell_spec("printenv", "SECRET", SECRET="from the job"))
    assert reporter.messages("INFO")[1:] == ["from the job"]


def test_it_passes_only_the_allow_list_and_the_run_identity(tmp_path: Path) -> None:
    _, reporter = run_shell(tmp_path, shell_spec("env", MODE="on"))
    names = sorted(line.split("=", 1)[0] for line in reporter.messages("INFO")[1:])
    expected = ["MODE", "ROTA_ATTEMPT", "ROTA_RUN_ID"]
    if "PATH" in os.environ:
        expected = sorted([*expected, "PATH"])
    assert names == expected
    assert "ROTA_RUN_ID=7" in reporter.messages()
    assert "ROTA_ATTEMPT=2" in reporter.messages()


def test_it_runs_in_the_project_folder_by_default(tmp_path: Path) -> None:
    _, reporter = run_shell(tmp_path, shell_spec("pwd"))
    assert Path(reporter.messages("INFO")[1]).resolve() == tmp_path.resolve()


def test_it_runs_in_a_folder_of_the_project(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    spec = {**shell_spec("pwd"), "cwd": "scripts"}
    _, reporter = run_shell(tmp_path, spec)
    assert Path(reporter.messages("INFO")[1]) == (tmp_path / "scripts").resolve()


def test_it_fails_without_retry_when_the_working_folder_is_missing(tmp_path: Path) -> None:
    spec = {**shell_spec("pwd"), "cwd": "missing"}
    with pytest.raises(JobFailed, match="'missing' does not exist") as info:
        run_shell(tmp_path, spec)
    assert info.value.retryable is False


def test_it_kills_the_process_group_on_timeout(tmp_path: Path) -> None:
    reporter = FakeReporter()
    spec = shell_spec("sh", "-c", "sleep 30 & echo $$ $!; wait")
    started = time.monotonic()
    with pytest.raises(HardStop) as info:
        ShellExecutor().execute(
            attempt(JobKind.SHELL, spec, tmp_path), reporter, control(timeout=0.5)
        )
    assert info.value.reason == "timeout"
    assert time.monotonic() - started < 5
    shell_pid, sleep_pid = (int(p) for p in reporter.messages("INFO")[1].split())
    assert wait_until_gone(shell_pid)
    assert wait_until_gone(sleep_pid)  # the child in the group is stopped too


def test_it_stops_by_force_when_the_worker_says_so(tmp_path: Path) -> None:
    run_control = control()
    timer = threading.Timer(0.2, run_control.stop, args=("shutdown",))
    timer.start()
    try:
        with pytest.raises(HardStop) as info:
            run_shell(tmp_path, shell_spec("sleep", "30"), run_control)
    finally:
        timer.join()
    assert info.value.reason == "shutdown"


def test_it_terminates_the_command_on_cancel(tmp_path: Path) -> None:
    run_control = control(cancel_grace=10)
    timer = threading.Timer(0.2, run_control.request_cancel)
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(RunCancelled, match="stopped on cancel") as info:
            run_shell(tmp_path, shell_spec("sleep", "30"), run_control)
    finally:
        timer.join()
    assert "-15" in str(info.value)  # SIGTERM
    assert time.monotonic() - started < 5


def test_it_kills_a_command_that_ignores_the_cancel_after_the_grace_period(
    tmp_path: Path,
) -> None:
    run_control = control(cancel_grace=0.3)
    spec = shell_spec("sh", "-c", "trap '' TERM; echo ready; sleep 30")
    timer = threading.Timer(0.2, run_control.request_cancel)
    timer.start()
    try:
        with pytest.raises(HardStop) as info:
            run_shell(tmp_path, spec, run_control)
    finally:
        timer.join()
    assert info.value.reason == "canceled"


def test_it_picks_the_executor_by_kind(tmp_path: Path) -> None:
    assert isinstance(executor_for(JobKind.SHELL, tmp_path), ShellExecutor)
    assert isinstance(executor_for(JobKind.HTTP, tmp_path), HttpExecutor)


# -- http ----------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if self.path.startswith("/fail"):
            self._send(500, "text/plain", "boom: the service is down")
        elif self.path.startswith("/missing"):
            self._send(404, "text/plain", "not here")
        elif self.path.startswith("/big"):
            self._send(200, "text/plain", "x" * (EXCERPT_CHARS * 3))
        else:
            answer = {
                "method": self.command,
                "path": self.path,
                "body": body,
                "content_type": self.headers.get("Content-Type"),
                "token": self.headers.get("X-Token"),
            }
            self._send(200, "application/json", json.dumps(answer))

    do_GET = do_POST = do_PUT = _answer

    def _send(self, status: int, content_type: str, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the request log."""


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Base URL of a local HTTP server; proxies from the environment must not get in the way."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with loopback_allowed():  # the guard refuses loopback unless [outgoing] allows it
            yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def http_spec(url: str, **spec: Any) -> dict[str, Any]:
    return {
        "method": "GET",
        "url": url,
        "headers": {},
        "body": None,
        "json": None,
        "expect_status": [200],
        **spec,
    }


def run_http(
    spec: dict[str, Any], tmp_path: Path, run_control: RunControl | None = None, **params: Any
) -> tuple[Any, FakeReporter]:
    reporter = FakeReporter()
    result = HttpExecutor().execute(
        attempt(JobKind.HTTP, spec, tmp_path, **params), reporter, run_control or control()
    )
    return result, reporter


def test_it_calls_a_url_and_returns_the_status_and_an_excerpt(server: str, tmp_path: Path) -> None:
    result, reporter = run_http(http_spec(f"{server}/ok"), tmp_path)
    assert result["status"] == 200
    assert json.loads(result["excerpt"])["path"] == "/ok"
    assert isinstance(result["elapsed_ms"], int)
    assert reporter.infos == [{"http_status": 200}]
    assert reporter.messages()[0] == f"GET {server}/ok"


def test_it_records_the_external_call(server: str, tmp_path: Path) -> None:
    _, reporter = run_http(http_spec(f"{server}/ok"), tmp_path)
    host = server.removeprefix("http://")
    assert reporter.external_calls == [(host, f"GET {server}/ok")]


def test_it_fails_on_an_unexpected_status_with_retry(server: str, tmp_path: Path) -> None:
    with pytest.raises(JobFailed, match="answered 500, expected 200") as info:
        run_http(http_spec(f"{server}/fail"), tmp_path)
    assert info.value.retryable is True


def test_it_logs_the_answer_of_a_failed_call(server: str, tmp_path: Path) -> None:
    reporter = FakeReporter()
    with pytest.raises(JobFailed):
        HttpExecutor().execute(
            attempt(JobKind.HTTP, http_spec(f"{server}/fail"), tmp_path), reporter, control()
        )
    assert reporter.messages("ERROR") == ["boom: the service is down"]
    assert reporter.infos == [{"http_status": 500}]


def test_it_fails_without_retry_on_a_client_error(server: str, tmp_path: Path) -> None:
    with pytest.raises(JobFailed, match="answered 404") as info:
        run_http(http_spec(f"{server}/missing"), tmp_path)
    assert info.value.retryable is False


def test_it_accepts_any_of_the_expected_statuses(server: str, tmp_path: Path) -> None:
    result, _ = run_http(http_spec(f"{server}/missing", expect_status=[200, 404]), tmp_path)
    assert result["status"] == 404


def test_it_bounds_the_excerpt(server: str, tmp_path: Path) -> None:
    result, _ = run_http(http_spec(f"{server}/big"), tmp_path)
    assert result["excerpt"] == "x" * EXCERPT_CHARS


def test_it_fails_when_the_service_cannot_be_reached(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with loopback_allowed(), pytest.raises(JobFailed, match="failed"):
        run_http(http_spec(f"http://127.0.0.1:{port}/ok"), tmp_path)


def test_it_takes_the_base_url_from_a_leading_placeholder(server: str, tmp_path: Path) -> None:
    result, _ = run_http(http_spec("{base_url}/ok"), tmp_path, base_url=f"{server}/")
    assert json.loads(result["excerpt"])["path"] == "/ok"


@pytest.mark.parametrize(
    "base_url", ["ftp://127.0.0.1/", "file:///etc/passwd", "127.0.0.1:8080", "", None]
)
def test_it_requires_a_leading_placeholder_to_be_an_http_url(
    tmp_path: Path, base_url: str | None
) -> None:
    reporter = FakeReporter()
    spec = http_spec("{base_url}/ok")
    with pytest.raises(JobFailed, match="base_url must be an http") as info:
        HttpExecutor().execute(
            attempt(JobKind.HTTP, spec, tmp_path, base_url=base_url), reporter, control()
        )
    assert info.value.retryable is False
    assert reporter.external_calls == []


def test_it_percent_encodes_later_placeholders(server: str, tmp_path: Path) -> None:
    spec = http_spec(server + "/items/{name}?q={q}&n={n}&flag={flag}")
    result, _ = run_http(spec, tmp_path, name="a/b", q="x y&z=1#é", n=5, flag=True)
    path = json.loads(result["excerpt"])["path"]
    assert path == "/items/a%2Fb?q=x%20y%26z%3D1%23%C3%A9&n=5&flag=true"


def test_it_keeps_the_types_of_whole_placeholders_in_a_json_body(
    server: str, tmp_path: Path
) -> None:
    spec = http_spec(
        f"{server}/echo",
        method="POST",
        json={
            "n": "{n}",
            "ratio": "{ratio}",
            "tags": "{tags}",
            "dry": "{dry}",
            "none": "{none}",
            "label": "run {n} of {tags}",
            "nested": [{"day": "{day}"}, 3, True],
        },
    )
    params = {"n": 5, "ratio": 0.5, "tags": ["a", "b"], "dry": False, "none": None}
    result, _ = run_http(spec, tmp_path, day="2026-11-20", **params)
    echoed = json.loads(result["excerpt"])
    assert echoed["method"] == "POST"
    assert echoed["content_type"] == "application/json"
    assert json.loads(echoed["body"]) == {
        "n": 5,
        "ratio": 0.5,
        "tags": ["a", "b"],
        "dry": False,
        "none": None,
        "label": "run 5 of ['a', 'b']",
        "nested": [{"day": "2026-11-20"}, 3, True],
    }


def test_it_fills_a_text_body_and_sends_the_headers(server: str, tmp_path: Path) -> None:
    spec = http_spec(
        f"{server}/echo",
        method="PUT",
        body="n={n}&dry={dry}&none={none}",
        headers={"X-Token": "abc", "Content-Type": "text/plain"},
    )
    result, _ = run_http(spec, tmp_path, n=5, dry=True, none=None)
    echoed = json.loads(result["excerpt"])
    assert (echoed["method"], echoed["body"], echoed["token"]) == (
        "PUT",
        "n=5&dry=true&none=",
        "abc",
    )
