"""YAML job files: shell and http jobs, errors naming the file and the field, argv filling."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rota.jobs.yamljobs import load_file, parse_definitions, seconds, substitute_argv
from rota.model.errors import DefinitionError
from rota.model.jobs import JobKind, RetryPolicy
from rota.model.params import ParamType

SOURCE = "jobs/example.yaml"


def parse(text: str) -> list:
    return parse_definitions(textwrap.dedent(text), SOURCE)


def parse_one(text: str):
    (definition,) = parse(text)
    return definition


def definition_error(text: str, field: str, *reason_parts: str) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        parse(text)
    error = info.value
    assert error.source == SOURCE
    assert error.field == field, (error.field, error.reason)
    for part in reason_parts:
        assert part in error.reason, (part, error.reason)
    assert str(error) == f"{SOURCE}: {field}: {error.reason}"
    return error


SHELL_JOB = """
    id: cleanup.nightly
    kind: shell
    name: Delete old files
    description: Removes old exports.
    owner: platform
    tags: [maintenance, nightly]
    destructive: true
    expected_runtime: 90s
    timeout: 5m
    retry: {max_attempts: 3, backoff: 2h, backoff_max: 3h, jitter: false}
    params:
      days: {type: int, default: 30, min: 1, max: 3650}
      folder: {type: choice, choices: [exports, archive], default: exports}
      verbose: bool
    command: [sh, scripts/cleanup.sh, "{folder}", "{days}"]
    env:
      inherit: [PATH, LANG]
      set: {MODE: "on", LIMIT: "010"}
    cwd: scripts
"""

HTTP_JOB = """
    id: health.ping
    kind: http
    idempotent: true
    timeout: 15
    retry: {max_attempts: 2, backoff: 5s}
    params:
      base_url: {type: str, default: "http://127.0.0.1:8080"}
      page: {type: int, default: 1}
    method: POST
    url: "{base_url}/healthz?page={page}"
    headers: {Accept: application/json}
    json: {page: "{page}", note: on}
    expect_status: [200, 204]
"""


# -- valid jobs ----------------------------------------------------------------------------------


def test_it_parses_a_shell_job_with_every_field() -> None:
    definition = parse_one(SHELL_JOB)
    assert definition.id == "cleanup.nightly"
    assert definition.kind is JobKind.SHELL
    assert definition.name == "Delete old files"
    assert definition.description == "Removes old exports."
    assert definition.owner == "platform"
    assert definition.tags == ("maintenance", "nightly")
    assert definition.destructive is True
    assert definition.idempotent is False
    assert definition.expected_runtime == 90.0
    assert definition.timeout == 300.0
    assert definition.retry == RetryPolicy(
        max_attempts=3, backoff_seconds=7200.0, backoff_max_seconds=10800.0, jitter=False
    )
    assert definition.source == SOURCE
    assert definition.spec == {
        "command": ["sh", "scripts/cleanup.sh", "{folder}", "{days}"],
        "env": {"inherit": ["PATH", "LANG"], "set": {"MODE": "on", "LIMIT": "010"}},
        "cwd": "scripts",
    }


def test_it_declares_the_params_of_a_yaml_job() -> None:
    params = parse_one(SHELL_JOB).params
    days, folder, verbose = params.specs
    assert (days.name, days.type, days.default, days.min, days.max) == (
        "days",
        ParamType.INT,
        30,
        1,
        3650,
    )
    assert (folder.type, folder.choices, folder.default) == (
        ParamType.CHOICE,
        ("exports", "archive"),
        "exports",
    )
    assert (verbose.type, verbose.required) == (ParamType.BOOL, True)


def test_it_gives_a_shell_job_a_default_env_allow_list() -> None:
    definition = parse_one("""
        id: echo
        kind: shell
        command: [echo, hello]
    """)
    assert definition.spec["env"] == {"inherit": ["PATH", "LANG", "HOME", "TZ"], "set": {}}
    assert definition.spec["cwd"] is None
    assert definition.timeout is None
    assert definition.retry == RetryPolicy()


def test_it_parses_an_http_job() -> None:
    definition = parse_one(HTTP_JOB)
    assert definition.kind is JobKind.HTTP
    assert definition.idempotent is True
    assert definition.timeout == 15.0
    assert definition.retry.max_attempts == 2
    assert definition.retry.backoff_seconds == 5.0
    assert definition.spec == {
        "method": "POST",
        "url": "{base_url}/healthz?page={page}",
        "headers": {"Accept": "application/json"},
        "body": None,
        "json": {"page": "{page}", "note": "on"},
        "expect_status": [200, 204],
    }


def test_it_accepts_a_single_expected_status() -> None:
    definition = parse_one("""
        id: ping
        kind: http
        url: http://127.0.0.1/
        expect_status: 200
    """)
    assert definition.spec["expect_status"] == [200]
    assert definition.spec["method"] == "GET"


def test_it_defaults_the_expected_statuses_to_success_codes() -> None:
    definition = parse_one("""
        id: ping
        kind: http
        url: http://127.0.0.1/
        body: "hello {n}"
        params: {n: int}
    """)
    assert definition.spec["expect_status"] == [200, 201, 202, 204]
    assert definition.spec["body"] == "hello {n}"
    assert definition.spec["json"] is None


def test_it_reads_several_jobs_from_a_list() -> None:
    definitions = parse("""
        - id: first
          kind: shell
          command: [echo, one]
        - id: second
          kind: http
          url: https://example.invalid/
    """)
    assert [(d.id, d.kind) for d in definitions] == [
        ("first", JobKind.SHELL),
        ("second", JobKind.HTTP),
    ]
    assert {d.source for d in definitions} == {SOURCE}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (90, 90.0),
        (1.5, 1.5),
        ("90", 90.0),
        ("90s", 90.0),
        ("250ms", 0.25),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        (" 1.5 m ", 90.0),
        (None, None),
    ],
)
def test_it_reads_durations_as_seconds(value: float | str | None, expected: float | None) -> None:
    assert seconds(value) == expected


@pytest.mark.parametrize("value", ["5 weeks", "1w", "-5s", "five", "", "5mm"])
def test_it_rejects_text_that_is_not_a_duration(value: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        seconds(value)


def test_it_reads_durations_in_job_fields() -> None:
    definition = parse_one("""
        id: slow
        kind: shell
        command: [sleep, "1"]
        expected_runtime: 2h
        timeout: 3h
    """)
    assert (definition.expected_runtime, definition.timeout) == (7200.0, 10800.0)


def test_it_loads_a_file_with_its_path_relative_to_the_project(tmp_path: Path) -> None:
    path = tmp_path / "jobs" / "sub" / "echo.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("id: echo\nkind: shell\ncommand: [echo, hi]\n", encoding="utf-8")
    (definition,) = load_file(path, tmp_path)
    assert definition.source == "jobs/sub/echo.yaml"


def test_it_reports_an_unreadable_file_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "jobs" / "latin1.yaml"
    path.parent.mkdir()
    path.write_bytes("id: caf\xe9\n".encode("latin-1"))
    with pytest.raises(DefinitionError) as info:
        load_file(path, tmp_path)
    assert (info.value.source, info.value.field) == ("jobs/latin1.yaml", "file")


# -- errors --------------------------------------------------------------------------------------


def test_it_rejects_an_unknown_field() -> None:
    definition_error(
        """
        id: echo
        kind: shell
        comand: [echo, hi]
        """,
        "comand",
        "Extra inputs are not permitted",
    )


def test_it_requires_a_command_for_a_shell_job() -> None:
    definition_error(
        """
        id: echo
        kind: shell
        """,
        "command",
        "shell job needs command",
    )


def test_it_rejects_an_empty_command() -> None:
    definition_error("id: echo\nkind: shell\ncommand: []\n", "command", "shell job needs command")


def test_it_requires_a_url_for_an_http_job() -> None:
    definition_error(
        """
        id: ping
        kind: http
        method: GET
        """,
        "url",
        "http job needs url",
    )


@pytest.mark.parametrize("kind", ["python", "cobol"])
def test_it_says_clearly_that_a_kind_is_not_a_yaml_kind(kind: str) -> None:
    definition_error(
        f"""
        id: thing
        kind: {kind}
        """,
        "kind",
        repr(kind),
        "is not a YAML job kind (shell, http, data, process)",
    )


def test_it_requires_a_kind() -> None:
    definition_error("id: thing\ncommand: [echo]\n", "kind", "Field required")


def test_it_requires_an_id() -> None:
    definition_error("kind: shell\ncommand: [echo]\n", "id", "Field required")


def test_it_rejects_an_invalid_job_id() -> None:
    definition_error("id: Bad Id\nkind: shell\ncommand: [echo]\n", "id", "lowercase")


def test_it_rejects_a_placeholder_that_is_part_of_an_argument() -> None:
    definition_error(
        """
        id: report
        kind: shell
        params: {date: date}
        command: [report, "--date={date}"]
        """,
        "command[1]",
        "whole argument",
    )


@pytest.mark.parametrize("argument", ["{", "}", "a}b", "{date}{date}", "{ date }"])
def test_it_rejects_any_brace_outside_a_whole_placeholder(argument: str) -> None:
    definition_error(
        f"""
        id: report
        kind: shell
        params: {{date: date}}
        command: [report, x, "{argument}"]
        """,
        "command[2]",
        "whole argument",
    )


def test_it_rejects_an_unknown_placeholder_in_a_command() -> None:
    definition_error(
        """
        id: report
        kind: shell
        params: {date: date}
        command: [report, "{date}", "{nope}"]
        """,
        "command[2]",
        "{nope} is not a parameter",
    )


def test_it_rejects_an_unknown_placeholder_in_a_url() -> None:
    definition_error(
        """
        id: ping
        kind: http
        params: {page: int}
        url: "http://127.0.0.1/items/{page}?q={nope}"
        """,
        "url",
        "{nope} is not a parameter",
    )


def test_it_rejects_an_unknown_placeholder_in_a_body() -> None:
    definition_error(
        """
        id: ping
        kind: http
        method: POST
        url: "http://127.0.0.1/"
        body: "value={nope}"
        """,
        "body",
        "{nope} is not a parameter",
    )


def test_it_rejects_a_body_and_a_json_body_together() -> None:
    definition_error(
        """
        id: ping
        kind: http
        method: POST
        url: http://127.0.0.1/
        body: "text"
        json: {a: 1}
        """,
        "body",
        "body or json, not both",
    )


def test_it_rejects_an_unknown_method() -> None:
    definition_error("id: p\nkind: http\nurl: http://x/\nmethod: FETCH\n", "method")


def test_it_rejects_a_bad_duration() -> None:
    with pytest.raises(DefinitionError) as info:
        parse("id: slow\nkind: shell\ncommand: [sleep, '1']\ntimeout: 5 weeks\n")
    assert info.value.source == SOURCE
    assert "'5 weeks' is not a duration like 90, 90s, 5m or 2h" in info.value.reason


@pytest.mark.parametrize(
    ("yaml_field", "field"),
    [
        ("timeout: 5 weeks", "timeout"),
        ("expected_runtime: 5 weeks", "expected_runtime"),
        ("retry: {backoff: 5 weeks}", "retry.backoff"),
    ],
)
def test_it_names_the_field_of_a_bad_duration(yaml_field: str, field: str) -> None:
    definition_error(f"id: slow\nkind: shell\ncommand: [x]\n{yaml_field}\n", field, "5 weeks")


def test_it_names_the_retry_field_of_an_invalid_retry_policy() -> None:
    definition_error(
        "id: r\nkind: shell\ncommand: [x]\nretry: {max_attempts: 0}\n",
        "retry.max_attempts",
        "at least 1",
    )


def test_it_rejects_an_invalid_retry_policy() -> None:
    with pytest.raises(DefinitionError) as info:
        parse("id: r\nkind: shell\ncommand: [x]\nretry: {max_attempts: 0}\n")
    assert info.value.source == SOURCE
    assert "at least 1" in info.value.reason


def test_it_rejects_a_non_positive_timeout_naming_it() -> None:
    definition_error("id: t\nkind: shell\ncommand: [x]\ntimeout: 0s\n", "timeout", "positive")


def test_it_rejects_an_unknown_param_type() -> None:
    definition_error(
        """
        id: typed
        kind: shell
        command: [echo]
        params: {count: {type: integer}}
        """,
        "params.count.type",
        "integer",
    )


def test_it_rejects_an_unknown_param_field() -> None:
    definition_error(
        "id: t\nkind: shell\ncommand: [echo]\nparams: {count: {type: int, maximum: 3}}\n",
        "params.count.maximum",
        "unknown parameter field",
    )


def test_it_rejects_a_param_default_that_is_invalid_for_its_type() -> None:
    definition_error(
        """
        id: typed
        kind: shell
        command: [echo]
        params:
          count: {type: int, default: abc}
        """,
        "params.count",
        "expected an integer",
    )


def test_it_rejects_a_default_outside_the_bounds() -> None:
    definition_error(
        "id: t\nkind: shell\ncommand: [echo]\nparams: {n: {type: int, default: 0, min: 1}}\n",
        "params.n",
        "below the minimum",
    )


def test_it_rejects_invalid_yaml_syntax() -> None:
    error = definition_error(
        """
        id: broken
        kind: shell
        command: [echo, "unclosed
        """,
        "yaml",
    )
    assert "\n" not in error.reason
    assert "line" in error.reason


def test_it_rejects_a_document_that_is_not_a_mapping() -> None:
    definition_error("just text\n", "document", "mapping of job fields")


def test_it_rejects_an_empty_document() -> None:
    definition_error("", "document", "mapping of job fields")


def test_it_prefixes_errors_in_a_list_with_the_item_index() -> None:
    definition_error(
        """
        - id: fine
          kind: shell
          command: [echo]
        - id: broken
          kind: shell
          comand: [echo]
        """,
        "[1].comand",
        "Extra inputs",
    )


def test_it_prefixes_own_checks_in_a_list_with_the_item_index() -> None:
    definition_error(
        "- id: a\n  kind: shell\n  command: [echo]\n- id: b\n  kind: shell\n",
        "[1].command",
        "shell job needs command",
    )


def test_it_prefixes_a_bad_kind_in_a_list_with_the_item_index() -> None:
    definition_error("- id: a\n  kind: python\n", "[0].kind", "not a YAML job kind")


def test_it_names_a_list_item_that_is_not_a_mapping_by_its_index() -> None:
    definition_error("- just text\n", "[0]", "mapping of job fields")


def test_it_keeps_yaml_1_1_words_as_text_in_commands() -> None:
    definition = parse_one("""
        id: words
        kind: shell
        command: [toggle, on, no, "12:30", 2026-11-20]
    """)
    assert definition.spec["command"] == ["toggle", "on", "no", "12:30", "2026-11-20"]


# -- substitute_argv -----------------------------------------------------------------------------


def test_it_replaces_whole_placeholders_with_their_values() -> None:
    argv = substitute_argv(
        ["report", "{day}", "--limit", "{limit}"], {"day": "2026-11-20", "limit": 5}
    )
    assert argv == ["report", "2026-11-20", "--limit", "5"]


def test_it_leaves_arguments_without_placeholders_alone() -> None:
    assert substitute_argv(["echo", "--flag", "x"], {"x": "y"}) == ["echo", "--flag", "x"]


def test_it_turns_a_list_param_into_several_arguments() -> None:
    argv = substitute_argv(["rm", "{files}", "--"], {"files": ["a.txt", "b c.txt", 3]})
    assert argv == ["rm", "a.txt", "b c.txt", "3", "--"]


def test_it_turns_an_empty_list_into_no_argument() -> None:
    assert substitute_argv(["rm", "{files}"], {"files": []}) == ["rm"]


def test_it_omits_none_and_missing_params() -> None:
    argv = substitute_argv(["run", "{since}", "{missing}", "end"], {"since": None})
    assert argv == ["run", "end"]


def test_it_writes_booleans_as_true_and_false() -> None:
    argv = substitute_argv(["run", "{dry}", "{loud}"], {"dry": True, "loud": False})
    assert argv == ["run", "true", "false"]


def test_it_writes_numbers_as_text() -> None:
    assert substitute_argv(["{n}", "{x}"], {"n": 0, "x": 1.5}) == ["0", "1.5"]


def test_it_keeps_a_value_with_spaces_as_one_argument() -> None:
    argv = substitute_argv(["grep", "{pattern}", "file"], {"pattern": "two words  here"})
    assert argv == ["grep", "two words  here", "file"]


@pytest.mark.parametrize(
    "value", ["$(rm -rf /)", "a; rm -rf /", "`id`", "a && b", "*", "x > /tmp/out", "'\"", "{x}"]
)
def test_it_does_not_interpret_shell_metacharacters(value: str) -> None:
    assert substitute_argv(["echo", "{x}"], {"x": value}) == ["echo", value]


def test_it_does_not_substitute_part_of_an_argument() -> None:
    assert substitute_argv(["--date={day}"], {"day": "2026-11-20"}) == ["--date={day}"]
