"""Rota: a self-hosted job and process engine.

Job code needs only this module: ``from rota import job, cron, every, shared, RunContext, JobFailed``.
"""

from rota.jobs.context import RunContext
from rota.jobs.decorator import job
from rota.jobs.processes import process
from rota.jobs.scheduling import calendar, cron, every, once
from rota.model.errors import JobFailed, RunCancelled
from rota.model.jobs import RetryPolicy
from rota.model.resources import shared

__version__ = "0.1.0"
__all__ = [
    "JobFailed",
    "RetryPolicy",
    "RunCancelled",
    "RunContext",
    "__version__",
    "calendar",
    "cron",
    "every",
    "job",
    "once",
    "process",
    "shared",
]
