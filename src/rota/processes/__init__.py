"""Processes: jobs joined into a DAG of steps, and the pure rules that advance a process run.

``expressions`` is the ``{{ path }}`` template syntax shared with triggers and webhooks,
``spec`` the checked definition, ``plan`` the next decisions for a run. Nothing here does I/O,
so the orchestrator owns every side effect and these rules are tested on plain values.
"""

from __future__ import annotations

from rota.processes.expressions import ExpressionError, references, render
from rota.processes.plan import Advance, StepStart, StepState, advance, derived_status
from rota.processes.spec import OnError, ProcessSpec, StepSpec, When, parse_steps

__all__ = [
    "Advance",
    "ExpressionError",
    "OnError",
    "ProcessSpec",
    "StepSpec",
    "StepStart",
    "StepState",
    "When",
    "advance",
    "derived_status",
    "parse_steps",
    "references",
    "render",
]
