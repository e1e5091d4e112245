"""Pydantic models at the boundary: what the API accepts and what it answers.

Request models forbid unknown fields: a body naming ``owner``, ``run_as``, ``tenant`` or a
role where none is accepted is refused (422) instead of silently ignored, so no caller can
set what only the server decides (mass assignment). Response models name the main fields of
each object and allow the rest: the objects' ``to_json`` forms are the interface, shared
with the CLI's ``--json``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from rota.auth.roles import ROLE_PATTERN
from rota.model.hooks import HOOK_ID
from rota.model.schedules import SCHEDULE_ID_PATTERN
from rota.services.access import NAME as USER_NAME

MAX_ID = 2**63 - 1
"""The largest id the databases store (64-bit): a larger one is bad input, not a crash."""
RunIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A run id.")]
VersionPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="A job version.")]
BeforeQuery = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="Only ids below this one (paging).")
]
AfterQuery = Annotated[int, Query(ge=0, le=MAX_ID, description="Only items after this `seq`.")]
RoleName = Annotated[str, Field(pattern=ROLE_PATTERN)]

NamePattern = USER_NAME.pattern


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- requests ---------------------------------------------------------------------------------


class LoginBody(Body):
    name: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


class StartRunBody(Body):
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters by name.")
    confirm: StrictBool = Field(default=False, description="Required to run a destructive job.")
    dry_run: StrictBool = Field(default=False, description="Data jobs: preview, change nothing.")
    priority: StrictInt | None = Field(default=None, ge=-1000, le=1000)


class RetryBody(Body):
    confirm: StrictBool = False


class NoteBody(Body):
    note: str | None = Field(default=None, max_length=1000)


class ScheduleBody(Body):
    """A schedule added or changed through the API (origin ``api``)."""

    job: str = Field(min_length=1, max_length=200)
    kind: Literal["cron", "interval", "once", "calendar"] = "cron"
    expression: str = Field(min_length=1, max_length=1000)
    tz: str = ""
    start: datetime | None = None
    end: datetime | None = None
    jitter: float = Field(default=0.0, ge=0)
    params: dict[str, Any] = Field(default_factory=dict)
    missed: Literal["latest", "all", "skip"] | None = None
    grace: float = Field(default=60.0, ge=0)
    catch_up_window: float = Field(default=86_400.0, gt=0)
    max_catch_up: StrictInt = Field(default=10, ge=1, le=10_000)
    overlap: Literal["skip", "queue", "allow", "cancel_previous"] | None = None
    exclude: list[str] = Field(default_factory=list)
    anchor: datetime | None = None


class CreateScheduleBody(ScheduleBody):
    id: str = Field(pattern=SCHEDULE_ID_PATTERN.pattern)


class HookBody(Body):
    job: str = Field(min_length=1, max_length=200)
    id: str | None = Field(default=None, pattern=HOOK_ID.pattern)
    params: dict[str, Any] = Field(default_factory=dict)
    description: str = Field(default="", max_length=1000)


class RotateBody(Body):
    keep_previous_hours: float = Field(default=24.0, ge=0, le=720)


class UserBody(Body):
    name: str = Field(pattern=NamePattern)
    password: str = Field(min_length=12, max_length=1024, pattern=r"^\S(.*\S)?$")
    grants: dict[str, list[RoleName]] = Field(
        default_factory=dict, description="Roles by tenant ('*': every tenant)."
    )


class GrantsBody(Body):
    roles: list[RoleName]


class PasswordBody(Body):
    password: str = Field(min_length=12, max_length=1024, pattern=r"^\S(.*\S)?$")


class TokenBody(Body):
    user: str | None = Field(default=None, description="Default: the caller.")
    roles: list[RoleName] | None = None
    tenants: list[str] | None = None
    expires_days: StrictInt | None = Field(default=None, ge=1, le=3650)
    note: str = Field(default="", max_length=200, description="What the token is for.")


class TenantBody(Body):
    id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,55}$",
        description="Its service account is `service.ID`, a user name of at most 64 characters.",
    )
    name: str = Field(default="", max_length=200)


# -- answers ----------------------------------------------------------------------------------


class Health(Out):
    status: str
    queued: int | None = None


class SessionOut(Out):
    user: str
    kind: str = "user"
    csrf_token: str | None = None
    grants: dict[str, list[str]] = Field(default_factory=dict)


class ParamOut(Out):
    name: str
    type: str
    required: bool


class JobOut(Out):
    id: str
    kind: str
    name: str
    version: int
    tenant: str
    params: list[ParamOut]


class ParamsSchemaOut(Out):
    """A JSON-schema-like description of a job's parameters, for forms."""

    job: str
    version: int
    schema_: dict[str, Any] = Field(alias="schema")


class JobVersionOut(Out):
    job: str
    version: int


class RunOut(Out):
    id: int
    job: str
    job_version: int
    tenant: str
    status: str
    trigger: str
    params: dict[str, Any]


class RunDetail(RunOut):
    attempts: list[AttemptOut] = Field(default_factory=list)
    history: list[StatusChangeOut] = Field(default_factory=list)


class RunPage(Out):
    runs: list[RunOut]
    next_before: int | None = Field(description="Pass as `before` for the next page; null: last")


class AttemptOut(Out):
    number: int
    worker: str
    outcome: str | None


class StatusChangeOut(Out):
    to: str
    at: str


class LogLineOut(Out):
    seq: int
    at: str
    level: str
    message: str
    attempt: int


class LogPage(Out):
    lines: list[LogLineOut]
    next_after: int = Field(description="Pass as `after` for the next lines.")
    finished: bool = Field(description="The run has ended: no more lines will come.")


class RecordOut(Out):
    key: str
    action: str
    error: str | None
    attempt: int
    row: int | None


class RecordPage(Out):
    records: list[RecordOut]
    next_after: int | None


class ScheduleOut(Out):
    id: str
    job: str
    kind: str
    expression: str
    paused: bool


class OccurrenceOut(Out):
    id: int
    schedule_id: str
    job: str
    outcome: str
    run_id: int | None


class GroupOut(Out):
    name: str
    enabled: bool
    jobs: list[str]


class ResourceOut(Out):
    name: str
    capacity: int


class HookOut(Out):
    id: str
    job: str
    path: str
    params: dict[str, Any]


class HookWithSecret(HookOut):
    secret: str = Field(description="Shown this once: store it in the sender.")


class Delivery(Out):
    run_id: int
    status: str
    replay: bool


class UserOut(Out):
    name: str
    disabled: bool
    grants: dict[str, list[str]]


class TokenOut(Out):
    id: str
    user: str


class TokenCreated(Out):
    token: str = Field(description="Shown this once: `Authorization: Bearer TOKEN`.")
    info: TokenOut


class TenantOut(Out):
    id: str
    name: str


class AuditOut(Out):
    id: int
    at: str
    actor: str | None
    action: str


RunDetail.model_rebuild()
