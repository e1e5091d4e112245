"""YAML job files (``shell``, ``http``, ``data`` and ``process`` kinds), validated with pydantic at this boundary.

A file holds one job (a mapping) or several (a list). Errors name the file and the field; the
loader reports them and keeps loading the other files.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rota.data.references import check_references
from rota.jobs import yamlsafe
from rota.jobs.flow import event_triggers
from rota.jobs.scheduling import overlap_option, schedule_from_mapping
from rota.model.errors import DefinitionError, InvalidInputError
from rota.model.jobs import DEFAULT_TENANT, JobDefinition, JobKind, RetryPolicy
from rota.model.notify import parse_rules
from rota.model.params import ParamSchema, declare_param
from rota.model.resources import parse_claims as resource_claims
from rota.processes.spec import parse_steps

DATA_FIELDS = (
    "source",
    "target",
    "action",
    "match",
    "mapping",
    "duplicates",
    "stop_after_failures",
    "chunk_size",
    "parallel",
)
PLACEHOLDER = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")
ANY_BRACE = re.compile(r"[{}]")
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def seconds(value: float | str | None) -> float | None:
    """``90``, ``"90s"``, ``"5m"``, ``"2h"`` -> seconds."""
    if value is None or isinstance(value, int | float):
        return None if value is None else float(value)
    match = DURATION.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a duration like 90, 90s, 5m or 2h")
    return float(match.group(1)) * _UNIT[match.group(2)]


Duration = Annotated[float | str | None, Field(default=None)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryModel(_Strict):
    max_attempts: int = 1
    backoff: float | str = 10.0
    backoff_max: float | str = 600.0
    jitter: bool = True
    max_worker_losses: int = 3


class EnvModel(_Strict):
    inherit: list[str] = Field(default_factory=lambda: ["PATH", "LANG", "HOME", "TZ"])
    set: dict[str, str] = Field(default_factory=dict)


class JobModel(_Strict):
    id: str
    kind: Literal["shell", "http", "data", "process"]
    name: str = ""
    description: str = ""
    owner: str = ""
    tags: list[str] = Field(default_factory=list)
    required_role: str | None = None
    params: dict[str, dict[str, Any] | str] = Field(default_factory=dict)
    expected_runtime: Duration
    timeout: Duration
    retry: RetryModel = Field(default_factory=RetryModel)
    idempotent: bool = False
    destructive: bool = False
    priority: int = 0
    active: bool = True
    expires_at: datetime | None = None
    group: str | None = None
    tenant: str = DEFAULT_TENANT
    schedules: list[Any] = Field(default_factory=list)
    overlap: str | None = None
    single_instance: bool = False
    resources: list[Any] | None = None
    concurrency: int | None = None
    excludes: list[str] = Field(default_factory=list)
    after: list[str] = Field(default_factory=list)
    triggers: list[Any] | None = None
    notify: list[Any] | dict[str, Any] | None = None
    # process
    steps: dict[str, Any] | None = None
    # shell
    command: list[str] | None = None
    env: EnvModel | None = None
    cwd: str | None = None
    # http
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    json_body: Any = Field(default=None, alias="json")
    expect_status: list[int] = Field(default_factory=lambda: [200, 201, 202, 204])
    # data
    source: dict[str, Any] | None = None
    target: dict[str, Any] | None = None
    action: str | None = None
    match: list[str] | str | None = None
    mapping: dict[str, Any] | None = None
    duplicates: str | None = None
    stop_after_failures: int | None = None
    chunk_size: int | None = None
    parallel: int | None = None

    @field_validator("command", mode="before")
    @classmethod
    def _numbers_as_text(cls, value: object) -> object:
        """``[sleep, 30]`` means the argument "30"; booleans stay an error (ambiguous)."""
        if isinstance(value, list):
            return [
                str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
                for v in value
            ]
        return value

    @field_validator("expect_status", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, int) else value


def parse_definitions(text: str, source: str) -> list[JobDefinition]:
    """Parse one YAML file; raise :class:`DefinitionError` naming ``source`` and the field."""
    try:
        data = yamlsafe.load(text)
    except Exception as exc:  # yaml.YAMLError and its many subclasses
        raise DefinitionError(source, "yaml", str(exc).replace("\n", " ")) from None
    items = data if isinstance(data, list) else [data]
    return [
        parse_definition(item, source, f"[{index}]." if isinstance(data, list) else "")
        for index, item in enumerate(items)
    ]


def parse_definition(item: object, source: str, where: str = "") -> JobDefinition:
    """One job from its mapping (a YAML document, or an API request's body)."""
    if not isinstance(item, dict):
        raise DefinitionError(
            source, where.rstrip(".") or "document", "must be a mapping of job fields"
        )
    if item.get("kind") not in YAML_KINDS and "kind" in item:
        raise DefinitionError(
            source,
            f"{where}kind",
            f"{item['kind']!r} is not a YAML job kind ({', '.join(YAML_KINDS)})",
        )
    try:
        model = JobModel.model_validate(item)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = where + ".".join(str(p) for p in first["loc"])
        raise DefinitionError(source, field, first["msg"]) from None
    try:
        return _definition(model, source)
    except DefinitionError:
        raise
    except (InvalidInputError, ValueError) as exc:
        field = getattr(exc, "field", "definition")
        reason = getattr(exc, "reason", str(exc))
        raise DefinitionError(source, where + field, reason) from None


def _definition(model: JobModel, source: str) -> JobDefinition:
    params = ParamSchema(
        tuple(
            declare_param(name, {"type": decl} if isinstance(decl, str) else decl)
            for name, decl in model.params.items()
        )
    )
    names = {s.name for s in params.specs}
    _check_kind_fields(model)
    spec: dict[str, Any]
    if model.kind == "shell":
        if not model.command:
            raise InvalidInputError("command", "a shell job needs command: [program, args...]")
        for i, arg in enumerate(model.command):
            _check_argv_element(arg, i, names)
        for name, value in ((model.env.set if model.env else None) or {}).items():
            check_references(str(value), f"env.set.{name}")
        spec = {
            "command": list(model.command),
            "env": (model.env or EnvModel()).model_dump(),
            "cwd": model.cwd,
        }
    elif model.kind == "process":
        if not model.steps:
            raise InvalidInputError("steps", "a process needs steps: {name: {job: ...}}")
        spec = {"steps": parse_steps(model.steps, param_names=names).to_json()}
    elif model.kind == "data":
        from rota.data.spec import data_spec

        raw = {key: getattr(model, key) for key in DATA_FIELDS if getattr(model, key) is not None}
        spec = data_spec(raw)
        if "dry_run" not in names:
            params = ParamSchema(
                (
                    *params.specs,
                    declare_param(
                        "dry_run",
                        {
                            "type": "bool",
                            "default": False,
                            "description": "Preview the first records, change nothing.",
                        },
                    ),
                )
            )
    else:
        if not model.url:
            raise InvalidInputError("url", "an http job needs url")
        if model.body is not None and model.json_body is not None:
            raise InvalidInputError("body", "give body or json, not both")
        _check_placeholders("url", model.url, names)
        _check_placeholders("body", model.body, names)
        _check_placeholders("json", model.json_body, names)
        for name, value in model.headers.items():
            check_references(value, f"headers.{name}")
        spec = {
            "method": model.method,
            "url": model.url,
            "headers": model.headers,
            "body": model.body,
            "json": model.json_body,
            "expect_status": model.expect_status,
        }
    retry = RetryPolicy(
        max_attempts=model.retry.max_attempts,
        backoff_seconds=_seconds("retry.backoff", model.retry.backoff) or 0.0,
        backoff_max_seconds=_seconds("retry.backoff_max", model.retry.backoff_max) or 0.0,
        jitter=model.retry.jitter,
        max_worker_losses=model.retry.max_worker_losses,
    )
    expected = _seconds("expected_runtime", model.expected_runtime)
    timeout = _seconds("timeout", model.timeout)
    return JobDefinition(
        id=model.id,
        kind=JobKind(model.kind),
        name=model.name,
        description=model.description,
        owner=model.owner,
        tags=tuple(model.tags),
        required_role=model.required_role,
        params=params,
        expected_runtime=expected,
        timeout=timeout,
        retry=retry,
        idempotent=model.idempotent,
        destructive=model.destructive,
        priority=model.priority,
        active=model.active,
        expires_at=model.expires_at,
        group=model.group,
        tenant=model.tenant,
        schedules=tuple(
            schedule_from_mapping(entry, f"schedules[{i}]")
            for i, entry in enumerate(model.schedules)
        ),
        overlap=overlap_option(model.overlap, model.single_instance),
        resources=resource_claims(model.resources),
        concurrency=model.concurrency,
        excludes=tuple(model.excludes),
        after=tuple(model.after),
        triggers=event_triggers(model.triggers, model.id),
        notify=parse_rules(model.notify),
        spec=spec,
        source=source,
    )


YAML_KINDS = ("shell", "http", "data", "process")
KIND_FIELDS = {
    "process": ("steps",),
    "shell": ("command", "env", "cwd"),
    "http": ("url", "body", "json_body"),
    "data": DATA_FIELDS,
}


def _check_kind_fields(model: JobModel) -> None:
    """A field of another kind is a mistake (a ``source:`` on a shell job does nothing)."""
    for kind, fields in KIND_FIELDS.items():
        if kind == model.kind:
            continue
        for name in fields:
            if getattr(model, name) is not None:
                shown = "json" if name == "json_body" else name
                raise InvalidInputError(shown, f"is not a field of a {model.kind} job")


def _seconds(field: str, value: float | str | None) -> float | None:
    try:
        return seconds(value)
    except ValueError as exc:
        raise InvalidInputError(field, str(exc)) from None


def _check_placeholders(where: str, template: Any, names: set[str]) -> None:
    """Every ``{name}`` in a URL, body or JSON body must be a parameter of the job."""
    if isinstance(template, str):
        for ref in re.findall(r"\{([^{}]*)\}", template):
            if ref not in names:
                raise InvalidInputError(where, f"{{{ref}}} is not a parameter of this job")
    elif isinstance(template, list):
        for i, item in enumerate(template):
            _check_placeholders(f"{where}[{i}]", item, names)
    elif isinstance(template, dict):
        for key, item in template.items():
            _check_placeholders(f"{where}.{key}", item, names)


def _check_argv_element(arg: str, index: int, names: set[str]) -> None:
    match = PLACEHOLDER.match(arg)
    if match:
        if match.group(1) not in names:
            raise InvalidInputError(f"command[{index}]", f"{arg} is not a parameter of this job")
    elif ANY_BRACE.search(arg):
        raise InvalidInputError(
            f"command[{index}]",
            "a parameter must be a whole argument like '{date}', never part of one",
        )


def substitute_argv(command: list[str], params: dict[str, Any]) -> list[str]:
    """Each ``{name}`` element becomes one argument (a list parameter, one per item)."""
    argv: list[str] = []
    for arg in command:
        match = PLACEHOLDER.match(arg)
        if not match:
            argv.append(arg)
            continue
        value = params.get(match.group(1))
        if value is None:
            continue
        argv.extend(_text(v) for v in value) if isinstance(value, list) else argv.append(
            _text(value)
        )
    return argv


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load_file(path: Path, project: Path) -> list[JobDefinition]:
    source = str(path.relative_to(project))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(source, "file", str(exc)) from None
    return parse_definitions(text, source)


__all__ = ["load_file", "parse_definitions", "seconds", "substitute_argv"]
