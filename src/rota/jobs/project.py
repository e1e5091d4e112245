"""Loading a project folder: Python modules and YAML files under ``jobs/`` define its jobs.

One bad file never hides the others: its error (file and field) is collected and loading goes
on. Python modules are imported under a private package name (``rota_project``) so that a
project module never shadows an installed package.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from rota.jobs.calendars import load_calendars
from rota.jobs.decorator import ATTRIBUTE, PythonJob
from rota.jobs.links import links_errors
from rota.jobs.scheduling import settle_schedules
from rota.jobs.yamljobs import load_file
from rota.model.errors import DefinitionError, InvalidInputError, NotFoundError
from rota.model.jobs import JobDefinition
from rota.model.runs import utcnow
from rota.model.schedules import BusinessCalendar

JOBS_FOLDER = "jobs"
PACKAGE = "rota_project"


@dataclass
class Project:
    root: Path
    definitions: dict[str, JobDefinition] = field(default_factory=dict)
    functions: dict[str, Callable[..., Any]] = field(default_factory=dict)
    calendars: list[BusinessCalendar] = field(default_factory=list)
    errors: list[DefinitionError] = field(default_factory=list)

    def function(self, job_id: str) -> Callable[..., Any]:
        try:
            return self.functions[job_id]
        except KeyError:
            raise NotFoundError("python job", job_id) from None

    def _add(self, definition: JobDefinition) -> None:
        if definition.id in self.definitions:
            other = self.definitions[definition.id].source
            self.errors.append(
                DefinitionError(
                    definition.source, "id", f"{definition.id!r} is already defined in {other}"
                )
            )
            return
        self.definitions[definition.id] = definition


def load_project(root: Path, *, default_tz: str = "UTC", now: datetime | None = None) -> Project:
    """Load ``jobs/`` and ``calendars/``; schedules without a zone get ``default_tz``."""
    root = root.resolve()
    project = Project(root=root)
    project.calendars, project.errors = load_calendars(root)
    folder = root / JOBS_FOLDER
    if not folder.is_dir():
        return project
    for path in sorted(folder.rglob("*")):
        # Hidden and private files and folders (editor lock files, _helpers) are not jobs.
        if any(part.startswith((".", "_")) for part in path.relative_to(folder).parts):
            continue
        if path.suffix == ".py":
            _load_module(project, path)
        elif path.suffix in (".yaml", ".yml"):
            try:
                for definition in load_file(path, root):
                    project._add(definition)
            except DefinitionError as exc:
                project.errors.append(exc)
    _settle(project, default_tz, now or utcnow())
    return project


def _settle(project: Project, default_tz: str, now: datetime) -> None:
    for job_id, message in links_errors(project.definitions):
        definition = project.definitions.pop(job_id, None)
        if definition is not None:
            project.errors.append(DefinitionError(definition.source, *message))
            project.functions.pop(job_id, None)
    names = {c.id for c in project.calendars}
    for job_id, definition in list(project.definitions.items()):
        if not definition.schedules:
            continue
        try:
            project.definitions[job_id] = settle_schedules(definition, default_tz, names, now)
        except InvalidInputError as exc:
            project.errors.append(DefinitionError(definition.source, exc.field, exc.reason))
            del project.definitions[job_id]
            project.functions.pop(job_id, None)


def _load_module(project: Project, path: Path) -> None:
    source = str(path.relative_to(project.root))
    relative = path.relative_to(project.root / JOBS_FOLDER).with_suffix("")
    name = ".".join((PACKAGE, *relative.parts))
    try:
        module = _import(name, path)
    except InvalidInputError as exc:
        project.errors.append(DefinitionError(source, exc.field, exc.reason))
        return
    except Exception as exc:
        last = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"line {last.lineno}" if last.filename == str(path) else "import"
        project.errors.append(DefinitionError(source, where, f"{type(exc).__name__}: {exc}"))
        return
    code_hash = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    seen: set[int] = set()
    for value in vars(module).values():
        marked = getattr(value, ATTRIBUTE, None)
        if isinstance(marked, PythonJob) and getattr(value, "__module__", None) == name:
            if id(marked) in seen:
                continue  # the same job under a second name (an alias)
            seen.add(id(marked))
            definition = replace(marked.definition, source=source, code_hash=code_hash)
            project._add(definition)
            if marked.function is not None:
                project.functions.setdefault(definition.id, marked.function)


def _import(name: str, path: Path) -> ModuleType:
    for parent in _parents(name):
        if parent not in sys.modules:
            package = ModuleType(parent)
            package.__path__ = []
            sys.modules[parent] = package
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]
