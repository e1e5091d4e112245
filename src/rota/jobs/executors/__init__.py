"""Job kinds: one executor module per kind, picked here by kind."""

from __future__ import annotations

from pathlib import Path

from rota.jobs.executors.base import Executor
from rota.model.jobs import JobKind


def executor_for(kind: JobKind, project: Path) -> Executor:
    if kind is JobKind.PYTHON:
        from rota.jobs.executors.python import PythonExecutor

        return PythonExecutor(project)
    if kind is JobKind.SHELL:
        from rota.jobs.executors.shell import ShellExecutor

        return ShellExecutor()
    if kind is JobKind.DATA:
        from rota.jobs.executors.data import DataExecutor

        return DataExecutor(project)
    from rota.jobs.executors.http import HttpExecutor

    return HttpExecutor()
