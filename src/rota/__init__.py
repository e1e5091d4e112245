"""Rota: a self-hosted job and process engine.

Job code needs only this module: ``from rota import job, cron, every, RunContext, JobFailed``.
"""

from rota.jobs.context import RunContext
from rota.jobs.decorator import job
from rota.jobs.scheduling import calendar, cron, every, once
from rota.model.errors import JobFailed, RunCancelled
from rota.model.jobs import RetryPolicy

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
]
