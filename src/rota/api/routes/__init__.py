"""One router per resource; :data:`ROUTERS` is what the application mounts, in order."""

from __future__ import annotations

from fastapi import APIRouter

from rota.api.routes import access, catalog, health, hooks, jobs, runs, schedules, session

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    session.router,
    jobs.router,
    runs.router,
    schedules.router,
    catalog.router,
    hooks.router,
    hooks.receiver,
    access.router,
)
