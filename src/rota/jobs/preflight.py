"""The pre-flight checks a job definition answers by itself and with the project folder: is it
valid and still the one in the project, which parameters has nobody given, are its
``${env:...}`` and ``${secret:...}`` references set, will its schedules fire, does a
destructive job say what it destroys. Each answers a :class:`~rota.data.probes.Finding`, or
``None`` when it does not apply to the job's kind; :mod:`rota.jobs.checks` puts them
together with the probes of sources and targets (:mod:`rota.data.probes`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from rota.data.probes import Finding, combine
from rota.data.references import check_references, references_in
from rota.data.spec import TRANSFER, data_spec
from rota.jobs.project import Project
from rota.jobs.yamljobs import PLACEHOLDER
from rota.model.errors import InvalidInputError
from rota.model.jobs import JobDefinition, JobKind
from rota.model.runs import iso
from rota.model.schedules import ScheduleSpec
from rota.schedules import compile_schedule
from rota.settings import Settings

SecretNames = Callable[[], set[str]]
"""The names of the secrets that exist (asked only when a ``${secret:...}`` is found)."""


# -- definition ---------------------------------------------------------------------------------


def definition(
    definition: JobDefinition, settings: Settings, project: Project | None, now: datetime
) -> Finding:
    findings: list[Finding] = []
    if definition.kind is JobKind.DATA:
        try:
            data_spec(definition.spec)
        except InvalidInputError as exc:
            findings.append(Finding("error", str(exc)))
    elif definition.kind is JobKind.HTTP:
        findings += _http_definition(definition.spec)
    elif definition.kind is JobKind.SHELL:
        findings += _shell_definition(definition.spec, settings.project)
    if not definition.active:
        findings.append(Finding("warning", "inactive (active: false): nothing starts it"))
    if definition.expires_at is not None and definition.expired(now):
        findings.append(Finding("warning", f"expired at {iso(definition.expires_at)}"))
    if project is not None:
        findings.append(_in_project(definition, project))
    elif definition.kind is JobKind.PYTHON:
        findings.append(Finding("ok", f"synced from {definition.source} (import not checked)"))
    if not findings:
        findings.append(Finding("ok", f"valid ({definition.source or 'no source'})"))
    return combine(findings)


def _http_definition(spec: Mapping[str, Any]) -> list[Finding]:
    if not isinstance(spec.get("url"), str) or not spec["url"]:
        return [Finding("error", "url: an http job needs url")]
    found: list[Finding] = []
    for name, value in mapping_of(spec.get("headers")).items():
        try:
            check_references(str(value), f"headers.{name}")
        except InvalidInputError as exc:
            found.append(Finding("error", str(exc)))
    return found


def _shell_definition(spec: Mapping[str, Any], project: Path) -> list[Finding]:
    command = spec.get("command")
    if not isinstance(command, list) or not command or not all(isinstance(a, str) for a in command):
        return [Finding("error", "command: a shell job needs command: [program, args...]")]
    folder = (project / str(spec["cwd"])).resolve() if spec.get("cwd") else project
    if not folder.is_dir():
        return [Finding("error", f"cwd: working folder {spec['cwd']!r} does not exist")]
    program = command[0]
    if PLACEHOLDER.match(program):
        return []
    if "/" in program:
        if not (folder / program).is_file():
            return [Finding("error", f"command[0]: {program!r} does not exist")]
        return []
    env = mapping_of(spec.get("env"))
    path = mapping_of(env.get("set")).get("PATH")
    if not isinstance(path, str) or "${" in path:
        inherited = "PATH" in (env.get("inherit") or [])
        path = os.environ.get("PATH", os.defpath) if inherited else os.defpath
    if shutil.which(program, path=path) is None:
        return [Finding("warning", f"command[0]: {program!r} is not on the PATH here")]
    return []


def _in_project(definition: JobDefinition, project: Project) -> Finding:
    """The stored definition against the project folder as it is now."""
    python = definition.kind is JobKind.PYTHON
    current = project.definitions.get(definition.id)
    if current is None:
        broken = [e for e in project.errors if e.source == definition.source]
        if broken:
            if python:
                return Finding("error", f"{broken[0]} (a worker cannot run it)")
            return Finding("warning", f"{broken[0]} (the synced version still runs)")
        where = definition.source or "its file"
        if python:
            return Finding("error", f"no longer in the project ({where}): a worker cannot run it")
        return Finding("warning", f"no longer in the project ({where}): the next sync removes it")
    if current.fingerprint != definition.fingerprint:
        return Finding(
            "warning", f"{current.source} changed since the last sync (run `rota jobs sync`)"
        )
    return Finding("ok", f"{'imports from' if python else 'matches'} {current.source}")


# -- params -------------------------------------------------------------------------------------


def params(definition: JobDefinition, specs: Sequence[ScheduleSpec], now: datetime) -> Finding:
    required = [p.name for p in definition.params.specs if p.required]
    problems: list[Finding] = []
    for spec in specs:
        missing = [name for name in required if name not in spec.params]
        if missing:
            problems.append(
                Finding(
                    "error",
                    f"schedule {spec.id} does not set {', '.join(missing)} (no default): "
                    "it cannot start the job",
                )
            )
            continue
        try:
            definition.params.validate(spec.params, now=now)
        except InvalidInputError as exc:
            problems.append(Finding("error", f"schedule {spec.id}: {exc}"))
    if problems:
        return combine(problems)
    if not definition.params.specs:
        return Finding("ok", "takes no parameters")
    if not required:
        return Finding("ok", "every parameter has a default")
    needs = f"needs {', '.join(required)} when started by hand"
    if specs:
        return Finding("warning", f"{needs} (its schedules set them)")
    return Finding("warning", f"{needs}; a schedule cannot start it")


# -- secrets ------------------------------------------------------------------------------------


def secrets(
    definition: JobDefinition, settings: Settings, secret_names: SecretNames | None
) -> Finding | None:
    places = _reference_places(definition, settings)
    if places is None:
        return None
    problems: list[Finding] = []
    seen: list[str] = []
    for field, text in places:
        try:
            check_references(text, field)
        except InvalidInputError as exc:
            problems.append(Finding("error", str(exc)))
            continue
        for kind, name in references_in(text):
            reference = f"${{{kind}:{name}}}"
            seen.append(f"{reference} ({field})")
            if kind == "env" and name not in os.environ:
                problems.append(
                    Finding("error", f"{field}: environment variable {name} is not set")
                )
            elif kind == "secret":
                problems += _secret(field, reference, name, secret_names)
    if problems:
        return combine(problems)
    if not seen:
        return Finding("ok", "uses no ${env:...} or ${secret:...} references")
    return Finding("ok", f"set: {', '.join(dict.fromkeys(seen))}")


def _secret(
    field: str, reference: str, name: str, secret_names: SecretNames | None
) -> list[Finding]:
    if secret_names is None:
        return [
            Finding("warning", f"{field}: {reference} not checked: secret store not available here")
        ]
    try:
        known = secret_names()
    except Exception as exc:
        why = f"{type(exc).__name__}: {exc}"
        return [
            Finding(
                "warning",
                f"{field}: {reference} not checked: secret store not available here ({why})",
            )
        ]
    if name not in known:
        return [
            Finding("error", f"{field}: secret {name!r} does not exist (rota secrets set {name})")
        ]
    return []


def _reference_places(
    definition: JobDefinition, settings: Settings
) -> list[tuple[str, str]] | None:
    """``(field, text)`` of every option whose ``${...}`` references are resolved when the
    job runs; ``None`` for Python jobs (their code reads what it likes)."""
    spec = definition.spec
    if definition.kind is JobKind.HTTP:
        return _values("headers", spec.get("headers"))
    if definition.kind is JobKind.SHELL:
        return _values("env.set", mapping_of(spec.get("env")).get("set"))
    if definition.kind is not JobKind.DATA:
        return None
    places: list[tuple[str, str]] = []
    for side in ("source", "target"):
        block = mapping_of(spec.get(side))
        if block.get("type") == "http":
            places += _values(f"{side}.headers", block.get("headers"))
    for name in _connection_names(spec):
        url = settings.connections.get(name)
        if url is not None:
            places.append((f"connections.{name}", url))
    return places


def _values(prefix: str, values: object) -> list[tuple[str, str]]:
    return [(f"{prefix}.{name}", str(value)) for name, value in mapping_of(values).items()]


def _connection_names(spec: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    source, target = mapping_of(spec.get("source")), mapping_of(spec.get("target"))
    if source.get("type") == "sql" and isinstance(source.get("connection"), str):
        names.append(source["connection"])
    if spec.get("action") != TRANSFER and isinstance(target.get("connection"), str):
        names.append(target["connection"])
    return list(dict.fromkeys(names))


# -- schedules ----------------------------------------------------------------------------------


def schedules(
    definition: JobDefinition,
    specs: Sequence[ScheduleSpec],
    paused: Mapping[str, str],
    disabled_groups: Collection[str],
    now: datetime,
) -> Finding | None:
    if not specs:
        return None
    findings: list[Finding] = []
    for spec in specs:
        try:
            compiled = compile_schedule(spec, field=spec.id)
        except InvalidInputError as exc:
            findings.append(Finding("error", str(exc)))
            continue
        fire = compiled.next_after(now)
        if fire is None:
            findings.append(
                Finding("error", f"{spec.id} never fires again ({compiled.description})")
            )
        elif spec.id in paused:
            note = f" ({paused[spec.id]})" if paused[spec.id] else ""
            findings.append(Finding("warning", f"{spec.id} is paused{note}"))
        else:
            findings.append(Finding("ok", f"{spec.id} next fires {iso(fire)}"))
    if not definition.active:
        findings.append(Finding("warning", "the job is inactive: its schedules start nothing"))
    if definition.group is not None and definition.group in disabled_groups:
        findings.append(
            Finding("warning", f"group {definition.group} is disabled: its schedules start nothing")
        )
    return combine(findings)


# -- destructive --------------------------------------------------------------------------------


def destructive(definition: JobDefinition) -> Finding | None:
    deletes = definition.kind is JobKind.DATA and definition.spec.get("action") == "delete"
    if not (definition.destructive or deletes):
        return None
    findings: list[Finding] = []
    if not definition.description.strip():
        if deletes:
            table = mapping_of(definition.spec.get("target")).get("table", "its target")
            reason = f"deletes records from {table} but has no description of what it destroys"
            findings.append(Finding("error", reason))
        else:
            findings.append(
                Finding("warning", "destructive, but no description says what it destroys")
            )
    if deletes and not definition.destructive:
        findings.append(
            Finding(
                "warning",
                "deletes records but is not marked destructive: true (a manual run needs no --yes)",
            )
        )
    if findings:
        return combine(findings)
    first = definition.description.strip().splitlines()[0]
    return Finding("ok", f"described: {first[:77] + '...' if len(first) > 80 else first}")


def mapping_of(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
