"""The secret store through the real CLI: ``rota secrets set|list|delete|new-key``, and
``${secret:NAME}`` in real runs of a real worker (a shell job's environment, an http job's
headers against a local server).

What every test here also checks: no command it ran, and no process it started, ever printed
a secret value (in any of the forms the masking knows), and the database holds none.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import stat
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from tests.acceptance.harness import COMMAND_TIMEOUT, ROTA, Result, Rota, words

pytestmark = pytest.mark.acceptance

NO_PROXY = {
    "HTTP_PROXY": "",
    "HTTPS_PROXY": "",
    "ALL_PROXY": "",
    "http_proxy": "",
    "https_proxy": "",
    "all_proxy": "",
    "NO_PROXY": "127.0.0.1,localhost",
    # The outgoing guard refuses loopback addresses unless [outgoing] allow names them.
    "ROTA_OUTGOING_ALLOW": '["127.0.0.1/32"]',
}
"""The worker talks to a server on the loopback: no proxy of the outer environment between,
and the loopback allowed."""

ENCODE = (
    "import os, urllib.parse as u; t = os.environ['TOKEN']; "
    "print('quoted=' + u.quote(t, safe='')); print('plus=' + u.quote_plus(t)); "
    "print('https://x/?k=' + u.quote(t, safe='') + '&page=2')"
)

TOKEN_JOB = f"""\
id: token.use
kind: shell
description: Uses the API token the way scripts do, and leaves a hash of it behind.
command:
  - sh
  - -c
  - |
    echo "$TOKEN"
    echo "https://x/?k=$TOKEN"
    "$PY" -c "$ENCODE"
    printf %s "$TOKEN" | sha256sum > token.sha256
env:
  set:
    TOKEN: "${{secret:api_token}}"
    PY: {json.dumps(sys.executable)}
    ENCODE: {json.dumps(ENCODE)}
"""

MASKED_LINES = ["***", "https://x/?k=***", "quoted=***", "plus=***", "https://x/?k=***&page=2"]
"""What ``token.use`` prints, as its log must show it."""


def unique_value(label: str) -> str:
    """A value with the characters URL encoding changes (space, &, =, /, +), unique per test."""
    return f"{label} S3cr3t {uuid.uuid4().hex[:12]}&scope=all/rw+x"


def forms(value: str) -> set[str]:
    return {value, quote(value, safe=""), quote_plus(value)}


@dataclass
class Session:
    """The CLI of one installation, remembering everything each command printed."""

    rota: Rota
    seen: list[Result] = field(default_factory=list)

    def __call__(
        self,
        *args: str,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
        checked: bool = True,
    ) -> Result:
        """Run ``rota ARGS``; its output joins what :meth:`assert_never_shown` checks unless
        ``checked`` is off (for a command whose own arguments hold the value)."""
        if stdin is None:
            result = self.rota(*args, env=env)
        else:
            done = subprocess.run(
                [str(ROTA), *args],
                env=self.rota.env(env),
                cwd=self.rota.project,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
            result = Result(tuple(args), done.returncode, done.stdout, done.stderr)
        if checked:
            self.seen.append(result)
        return result

    def ok(self, *args: str, **kwargs: Any) -> Result:
        result = self(*args, **kwargs)
        assert result.code == 0, f"{result}\n{self.rota.process_output()}"
        return result

    def json(self, *args: str, code: int = 0, **kwargs: Any) -> Any:
        result = self(*args, "--json", **kwargs)
        assert result.code == code, f"expected {code}\n{result}\n{self.rota.process_output()}"
        return result.json()

    def set_secret(self, name: str, value: str, env: dict[str, str] | None = None) -> Result:
        """``echo VALUE | rota secrets set NAME``: the value on stdin, ended by a newline."""
        return self("secrets", "set", name, stdin=value + "\n", env=env)

    def run(self, job: str, code: int = 0) -> dict[str, Any]:
        run: dict[str, Any] = self.json("run", job, "--wait", code=code)
        return run

    def log_lines(self, run_id: int) -> list[str]:
        logged = self.json_lines("runs", "logs", str(run_id), "--json")
        self.ok("runs", "logs", str(run_id))  # the text form is checked for values too
        return [line["message"] for line in logged]

    def json_lines(self, *args: str) -> list[dict[str, Any]]:
        result = self.ok(*args)
        return [json.loads(line) for line in result.out.splitlines() if line.strip()]

    def assert_never_shown(self, *values: str) -> None:
        """No command's output, no process's output and no database file holds a value."""
        self.ok("runs", "list", "--json")
        outputs = [r.out + r.err for r in self.seen] + [self.rota.process_output()]
        database = Path(self.rota.database_url.removeprefix("sqlite:///"))
        stored = b"".join(
            path.read_bytes()
            for path in database.parent.glob(database.name + "*")  # with -wal and -shm
        )
        for value in values:
            for form in forms(value):
                for output in outputs:
                    assert form not in output, f"{form!r} was shown:\n{output}"
                assert form.encode() not in stored, f"{form!r} is in the database"


@pytest.fixture
def cli(synced_rota: Rota) -> Session:
    synced_rota.add_job_file("token.yaml", TOKEN_JOB)
    return Session(synced_rota)


def token_hash(rota: Rota) -> str:
    return (rota.project / "token.sha256").read_text().split()[0]


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# -- set, list, delete ---------------------------------------------------------------------------


def test_set_reads_the_value_from_stdin_and_list_shows_everything_but_the_value(
    cli: Session,
) -> None:
    value = unique_value("list")

    saved = cli.set_secret("api_token", value)

    assert saved.code == 0, saved
    assert words(saved.out) == "secret api_token saved (version 1)"
    key = cli.rota.project / ".rota" / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600  # made at the first set
    listed = cli.json("secrets", "list")
    assert len(listed) == 1
    assert set(listed[0]) == {"name", "tenant", "version", "created_at", "updated_at", "updated_by"}
    assert (listed[0]["name"], listed[0]["tenant"], listed[0]["version"]) == (
        "api_token",
        "default",
        1,
    )
    assert listed[0]["updated_by"] == getpass.getuser()
    table = cli.ok("secrets", "list", env={"COLUMNS": "200"})
    assert "api_token" in table.out and getpass.getuser() in table.out
    described = cli("secrets", "set", "api_token", "--json", stdin=value)  # no newline
    assert described.code == 0, described
    assert (described.json()["name"], described.json()["version"]) == ("api_token", 2)
    cli.assert_never_shown(value)


def test_a_value_given_as_an_argument_is_refused_and_nothing_is_stored(cli: Session) -> None:
    value = unique_value("argument").replace(" ", "-")

    refused = cli("secrets", "set", "api_token", value, checked=False)

    assert refused.code == 2, refused
    assert "never from an argument" in refused.err_words.lower()
    assert cli.json("secrets", "list") == []
    assert not (cli.rota.project / ".rota" / "secret.key").exists()
    # Not for a rotation either: the stored value stays, at its version.
    first = unique_value("first")
    assert cli.set_secret("api_token", first).code == 0
    again = cli("secrets", "set", "api_token", value, checked=False)
    assert again.code == 2, again
    assert [s["version"] for s in cli.json("secrets", "list")] == [1]
    cli.assert_never_shown(value, first)


@pytest.mark.parametrize(
    ("name", "stdin", "message"),
    [
        pytest.param("api_token", "", "error: value: is empty", id="empty-value"),
        pytest.param("api_token", "\n", "error: value: is empty", id="only-a-newline"),
        pytest.param("has/slash", "v4lue-x", "is not a secret name", id="bad-name"),
        pytest.param("1st", "v4lue-x", "is not a secret name", id="name-starts-with-a-digit"),
    ],
)
def test_bad_input_is_refused_with_exit_2_and_stores_nothing(
    cli: Session, name: str, stdin: str, message: str
) -> None:
    refused = cli("secrets", "set", name, stdin=stdin)

    assert refused.code == 2, refused
    assert message in refused.err_words
    assert cli.json("secrets", "list") == []


def test_delete_needs_yes_and_an_existing_secret(cli: Session) -> None:
    value = unique_value("delete")
    assert cli.set_secret("api_token", value).code == 0

    unconfirmed = cli("secrets", "delete", "api_token")
    assert unconfirmed.code == 2, unconfirmed
    assert "needs --yes" in unconfirmed.err_words
    assert len(cli.json("secrets", "list")) == 1

    deleted = cli.ok("secrets", "delete", "api_token", "--yes")
    assert words(deleted.out) == "secret api_token deleted"
    assert cli.json("secrets", "list") == []

    missing = cli("secrets", "delete", "api_token", "--yes")
    assert missing.code == 2, missing
    assert "error: secret 'api_token' not found" in missing.err_words
    cli.assert_never_shown(value)


# -- in runs -------------------------------------------------------------------------------------


def test_a_shell_job_gets_the_value_and_its_log_shows_only_stars(cli: Session) -> None:
    value = unique_value("shell")
    cli.rota.worker()
    assert cli.set_secret("api_token", value).code == 0  # the first key, after the worker started

    run = cli.run("token.use")

    assert run["status"] == "completed", run
    assert run["info"]["secrets_used"] == {"api_token": 1}
    assert token_hash(cli.rota) == sha256(value)  # the job got the real value
    lines = cli.log_lines(run["id"])
    assert [line for line in lines if not line.startswith("$ ")] == MASKED_LINES
    cli.json("runs", "show", str(run["id"]))
    cli.ok("runs", "show", str(run["id"]))
    cli.assert_never_shown(value)


def test_a_rotation_is_used_by_the_next_run_without_a_restart(cli: Session) -> None:
    first, second = unique_value("first"), unique_value("second")
    assert cli.set_secret("api_token", first).code == 0
    worker = cli.rota.worker()

    before = cli.run("token.use")
    assert before["info"]["secrets_used"] == {"api_token": 1}
    assert token_hash(cli.rota) == sha256(first)

    rotated = cli.set_secret("api_token", second)
    assert words(rotated.out) == "secret api_token saved (version 2)"
    after = cli.run("token.use")

    assert worker.running()
    assert after["status"] == "completed", after
    assert after["info"]["secrets_used"] == {"api_token": 2}
    assert token_hash(cli.rota) == sha256(second)
    assert [line for line in cli.log_lines(after["id"]) if not line.startswith("$ ")] == (
        MASKED_LINES
    )
    assert cli.json("runs", "show", str(before["id"]))["info"]["secrets_used"] == {"api_token": 1}
    assert [s["version"] for s in cli.json("secrets", "list")] == [2]
    cli.assert_never_shown(first, second)


def test_a_worker_with_another_key_refuses_to_start(cli: Session) -> None:
    value = unique_value("key")
    assert cli.set_secret("api_token", value).code == 0
    other_key = cli.ok("secrets", "new-key").out.strip()
    assert len(other_key) == 44

    worker = cli.rota.spawn("worker", name="wrong-key", env={"ROTA_SECRET_KEY": other_key})
    code = worker.wait()

    assert code != 0, worker.output()
    err = words(worker.stderr.read_text())
    assert "error: secret 'api_token' cannot be opened with the key from ROTA_SECRET_KEY" in err, (
        worker.output()
    )
    assert other_key not in worker.output()
    # Nor does it add a secret under a key that cannot open the others.
    refused = cli.set_secret("other", unique_value("other"), env={"ROTA_SECRET_KEY": other_key})
    assert refused.code == 1, refused
    assert "cannot be opened" in refused.err_words
    assert [s["name"] for s in cli.json("secrets", "list")] == ["api_token"]
    cli.assert_never_shown(value)


def test_a_worker_without_the_key_file_refuses_to_start(cli: Session) -> None:
    assert cli.set_secret("api_token", unique_value("lost")).code == 0
    (cli.rota.project / ".rota" / "secret.key").unlink()

    worker = cli.rota.spawn("worker", name="no-key")

    assert worker.wait() != 0
    assert "1 secrets are stored but there is no key: restore" in words(
        worker.stderr.read_text()
    ), worker.output()
    assert not (cli.rota.project / ".rota" / "secret.key").exists()  # no new key made


def test_a_run_needing_a_deleted_secret_fails_naming_it(cli: Session) -> None:
    value = unique_value("deleted")
    assert cli.set_secret("api_token", value).code == 0
    cli.rota.worker()
    assert cli.run("token.use")["status"] == "completed"
    cli.ok("secrets", "delete", "api_token", "--yes")

    run = cli.run("token.use", code=1)

    assert (run["status"], run["attempt"]) == ("failed", 1), run  # no retry: it cannot help
    assert run["error"]["type"] == "JobFailed"
    assert run["error"]["message"] == (
        "env.set.TOKEN: secret 'api_token' does not exist (rota secrets set api_token)"
    )
    text = cli("run", "token.use", "--wait")
    assert text.code == 1
    assert "secret 'api_token' does not exist" in words(text.out + text.err)
    cli.assert_never_shown(value)


class _Recorder(BaseHTTPRequestHandler):
    received: list[dict[str, str]]

    def do_GET(self) -> None:
        self.received.append(dict(self.headers.items()))
        body = f"you sent: {self.headers.get('Authorization')}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the request log."""


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A local HTTP server answering with the Authorization header it got."""
    received: list[dict[str, str]] = []
    handler = type("Handler", (_Recorder,), {"received": received})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", received
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_an_http_job_sends_the_real_header_and_shows_only_stars(
    cli: Session, server: tuple[str, list[dict[str, str]]]
) -> None:
    url, received = server
    value = unique_value("http")
    cli.rota.add_job_file(
        "hook.yaml",
        f"id: hook.call\nkind: http\nurl: {url}/hook\n"
        "headers:\n"
        '  Authorization: "Bearer ${secret:api_token}"\n'
        '  X-Plain: "nothing to hide"\n',
    )
    assert cli.set_secret("api_token", value).code == 0
    cli.rota.worker(env=NO_PROXY)

    run = cli.run("hook.call")

    assert run["status"] == "completed", run
    assert [(r["Authorization"], r["X-Plain"]) for r in received] == [
        (f"Bearer {value}", "nothing to hide")
    ]
    assert run["result"]["excerpt"] == "you sent: Bearer ***"
    assert run["info"] == {"http_status": 200, "secrets_used": {"api_token": 1}}
    assert f"GET {url}/hook" in cli.log_lines(run["id"])
    cli.json("runs", "show", str(run["id"]))
    cli.assert_never_shown(value)


# -- what an earlier version got wrong ------------------------------------------------------------


def test_a_value_given_as_an_argument_is_not_repeated_in_the_refusal(cli: Session) -> None:
    value = unique_value("echoed").replace(" ", "-")

    refused = cli("secrets", "set", "api_token", value, checked=False)

    assert refused.code == 2, refused
    assert value not in refused.out + refused.err, refused


def test_a_multi_line_secret_printed_by_a_job_is_masked_line_by_line(cli: Session) -> None:
    key = uuid.uuid4().hex
    value = f"-----BEGIN TEST KEY-----\nMIIE{key[:16]}\n{key[16:]}QAB\n-----END TEST KEY-----"
    assert cli.set_secret("api_token", value).code == 0
    cli.rota.worker()

    run = cli.run("token.use")

    assert run["status"] == "completed", run
    assert token_hash(cli.rota) == sha256(value)
    logged = "\n".join(cli.log_lines(run["id"]))
    for line in value.splitlines()[1:-1]:  # the key material, not the armour lines
        assert line not in logged, f"{line!r} is in the log:\n{logged}"


@pytest.mark.parametrize(
    ("job", "field"),
    [
        pytest.param(
            "id: bad.shell\nkind: shell\ncommand: [echo, hi]\n"
            'env: {set: {TOKEN: "${secert:api_token}"}}\n',
            "env.set.TOKEN",
            id="shell-env",
        ),
        pytest.param(
            "id: bad.http\nkind: http\nurl: http://127.0.0.1:1/\n"
            'headers: {Authorization: "Bearer ${secret:api/token}"}\n',
            "headers.Authorization",
            id="http-header",
        ),
    ],
)
def test_a_bad_reference_is_refused_when_the_job_is_loaded(
    cli: Session, job: str, field: str
) -> None:
    cli.rota.add_job_file("bad.yaml", job)

    synced = cli("jobs", "sync")

    assert synced.code == 2, synced
    assert f"invalid: jobs/bad.yaml: {field}:" in synced.err_words
