"""Job definitions: what a job is, independent of where it was declared (Python or YAML).

A definition is a frozen value. Its ``fingerprint`` covers everything that changes behaviour, so
the store can give a changed definition a new version and every run can say which version ran.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from rota.model.errors import InvalidInputError
from rota.model.ids import JOB_ID_PATTERN
from rota.model.notify import NotifyRule, rules_from_json
from rota.model.params import JsonValue, ParamSchema, ParamSpec, ParamType
from rota.model.resources import ResourceClaim, check_resource_name
from rota.model.schedules import OverlapPolicy, ScheduleSpec
from rota.model.triggers import EventTrigger

DEFAULT_TENANT = "default"


class JobKind(StrEnum):
    PYTHON = "python"
    SHELL = "shell"
    HTTP = "http"
    DATA = "data"
    PROCESS = "process"
    """Steps that run other jobs (``spec["steps"]``); the store advances it, no worker runs it."""


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Retries after failures: exponential backoff ``base * 2**(n-1)`` capped at ``max``, with
    full jitter so that many failing runs do not retry in lockstep.

    ``max_worker_losses`` bounds how often the reaper re-queues an idempotent run whose worker
    died, so a job that kills its worker cannot loop forever.
    """

    max_attempts: int = 1
    backoff_seconds: float = 10.0
    backoff_max_seconds: float = 600.0
    jitter: bool = True
    max_worker_losses: int = 3

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidInputError("retry.max_attempts", "must be at least 1")
        if self.backoff_seconds < 0:
            raise InvalidInputError("retry.backoff_seconds", "must not be negative")
        if self.backoff_max_seconds < 0:
            raise InvalidInputError("retry.backoff_max_seconds", "must not be negative")
        if self.max_worker_losses < 0:
            raise InvalidInputError("retry.max_worker_losses", "must not be negative")

    def delay(self, failed_attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before the attempt after ``failed_attempt`` (1-based)."""
        growth: float = 2.0 ** min(failed_attempt - 1, 64)
        ceiling = min(self.backoff_max_seconds, self.backoff_seconds * growth)
        if not self.jitter:
            return ceiling
        return float((rng or random).uniform(ceiling / 2, ceiling))

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "max_attempts": self.max_attempts,
            "backoff_seconds": self.backoff_seconds,
            "backoff_max_seconds": self.backoff_max_seconds,
            "jitter": self.jitter,
            "max_worker_losses": self.max_worker_losses,
        }


@dataclass(frozen=True, kw_only=True)
class JobDefinition:
    """One job as declared. ``spec`` holds the kind-specific part (argv, URL, entrypoint)."""

    id: str
    kind: JobKind
    name: str = ""
    description: str = ""
    owner: str = ""
    tags: tuple[str, ...] = ()
    required_role: str | None = None
    params: ParamSchema = field(default_factory=ParamSchema)
    expected_runtime: float | None = None
    timeout: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    idempotent: bool = False
    destructive: bool = False
    priority: int = 0
    active: bool = True
    expires_at: datetime | None = None
    group: str | None = None
    tenant: str = DEFAULT_TENANT
    schedules: tuple[ScheduleSpec, ...] = ()
    overlap: OverlapPolicy = OverlapPolicy.SKIP
    """What a schedule fire does while a run of this job is unfinished (``single_instance``
    is ``skip``); a schedule may override it."""
    resources: tuple[ResourceClaim, ...] = ()
    """Resources every run of this job holds (see :mod:`rota.model.resources`)."""
    concurrency: int | None = None
    """At most this many runs of the job queued or running at once (``job:ID`` resource)."""
    excludes: tuple[str, ...] = ()
    """Jobs this job never runs alongside: it waits for their runs, theirs wait for its."""
    after: tuple[str, ...] = ()
    """Jobs whose unfinished run a new run of this job waits for (``pending``)."""
    triggers: tuple[EventTrigger, ...] = ()
    """Event triggers that start this job."""
    notify: tuple[NotifyRule, ...] = ()
    """Who hears of this job's runs ending, running late or schedule times missed."""
    spec: dict[str, JsonValue] = field(default_factory=dict)
    source: str = ""
    code_hash: str = ""
    """Hash of the job's code (Python) so that a code change is a new version too."""

    def __post_init__(self) -> None:
        if not JOB_ID_PATTERN.fullmatch(self.id):
            raise InvalidInputError(
                "id", f"{self.id!r} must be lowercase letters, digits, '.', '_' or '-'"
            )
        if not self.name:
            object.__setattr__(self, "name", self.id)
        if self.timeout is not None and self.timeout <= 0:
            raise InvalidInputError("timeout", "must be a positive number of seconds")
        if self.expected_runtime is not None and self.expected_runtime <= 0:
            raise InvalidInputError("expected_runtime", "must be a positive number of seconds")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise InvalidInputError("expires_at", "needs a UTC offset or Z")
        if not -1000 <= self.priority <= 1000:
            raise InvalidInputError("priority", "must be between -1000 and 1000")
        if self.concurrency is not None and not 1 <= self.concurrency <= 10_000:
            raise InvalidInputError("concurrency", "must be between 1 and 10000")
        for n, claim in enumerate(self.resources):
            check_resource_name(f"resources[{n}]", claim.name)
        for name, jobs in (("excludes", self.excludes), ("after", self.after)):
            for other in jobs:
                if not JOB_ID_PATTERN.fullmatch(other):
                    raise InvalidInputError(name, f"{other!r} is not a job id")
                if other == self.id:
                    raise InvalidInputError(name, f"job {self.id!r} cannot name itself")
        named = [s.with_id(s.id or f"{self.id}:{n}") for n, s in enumerate(self.schedules, 1)]
        ids = [s.id for s in named]
        if len(set(ids)) != len(ids):
            raise InvalidInputError("schedules", "two schedules share one id")
        object.__setattr__(self, "schedules", tuple(named))

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def resource_claims(self) -> tuple[ResourceClaim, ...]:
        """Everything a run of this job claims: its own resources, its limits and exclusions.

        Limits are conditional claims (they count only when their resource is defined), so a
        job without any pays nothing for them."""
        claims = {c.name: c for c in self.resources}
        derived = [ResourceClaim(f"running:{self.id}", shared=True, conditional=True)]
        if self.kind is not JobKind.PROCESS:
            # A process's steps count against the limits; the process itself holding a unit
            # too would let a limit of 1 deadlock it against its own first step.
            derived.append(ResourceClaim(f"tenant:{self.tenant}", conditional=True))
        if self.concurrency is not None:
            derived.append(ResourceClaim(f"job:{self.id}", conditional=True))
        if self.group and self.kind is not JobKind.PROCESS:
            derived.append(ResourceClaim(f"group:{self.group}", conditional=True))
        derived.extend(ResourceClaim(f"running:{other}") for other in self.excludes)
        for claim in derived:
            claims.setdefault(claim.name, claim)
        return tuple(sorted(claims.values()))

    def to_json(self) -> dict[str, JsonValue]:
        """The canonical JSON form; the store keeps it and rebuilds the definition from it."""
        body: dict[str, JsonValue] = {
            "id": self.id,
            "kind": self.kind.value,
            "name": self.name,
            "description": self.description,
            "owner": self.owner,
            "tags": list(self.tags),
            "required_role": self.required_role,
            "params": self.params.to_json(),
            "expected_runtime": self.expected_runtime,
            "timeout": self.timeout,
            "retry": self.retry.to_json(),
            "idempotent": self.idempotent,
            "destructive": self.destructive,
            "priority": self.priority,
            "active": self.active,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "group": self.group,
            "tenant": self.tenant,
            "spec": self.spec,
            "source": self.source,
            "code_hash": self.code_hash,
        }
        # Left out when unset so that definitions written before schedules keep their version.
        if self.schedules:
            body["schedules"] = [s.to_json() for s in self.schedules]
        if self.overlap is not OverlapPolicy.SKIP:
            body["overlap"] = self.overlap.value
        if self.resources:
            body["resources"] = [c.to_json() for c in self.resources]
        if self.concurrency is not None:
            body["concurrency"] = self.concurrency
        if self.excludes:
            body["excludes"] = list(self.excludes)
        if self.after:
            body["after"] = list(self.after)
        if self.triggers:
            body["triggers"] = [trigger.to_json() for trigger in self.triggers]
        if self.notify:
            body["notify"] = [rule.to_json() for rule in self.notify]
        return body

    @property
    def fingerprint(self) -> str:
        body = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobDefinition:
        params = ParamSchema(tuple(_param_from_json(p) for p in data.get("params", [])))
        expires = data.get("expires_at")
        return cls(
            id=data["id"],
            kind=JobKind(data["kind"]),
            name=data.get("name", ""),
            description=data.get("description", ""),
            owner=data.get("owner", ""),
            tags=tuple(data.get("tags", ())),
            required_role=data.get("required_role"),
            params=params,
            expected_runtime=data.get("expected_runtime"),
            timeout=data.get("timeout"),
            retry=RetryPolicy(**data.get("retry", {})),
            idempotent=bool(data.get("idempotent", False)),
            destructive=bool(data.get("destructive", False)),
            priority=int(data.get("priority", 0)),
            active=bool(data.get("active", True)),
            expires_at=datetime.fromisoformat(expires) if expires else None,
            group=data.get("group"),
            tenant=data.get("tenant", DEFAULT_TENANT),
            schedules=tuple(ScheduleSpec.from_json(s) for s in data.get("schedules", ())),
            overlap=OverlapPolicy(data.get("overlap", OverlapPolicy.SKIP)),
            resources=tuple(ResourceClaim.from_json(c) for c in data.get("resources", ())),
            concurrency=data.get("concurrency"),
            excludes=tuple(data.get("excludes", ())),
            after=tuple(data.get("after", ())),
            triggers=tuple(EventTrigger.from_json(x) for x in data.get("triggers", ())),
            notify=rules_from_json(data.get("notify")),
            spec=dict(data.get("spec", {})),
            source=data.get("source", ""),
            code_hash=data.get("code_hash", ""),
        )


def _param_from_json(data: dict[str, Any]) -> ParamSpec:
    kwargs: dict[str, Any] = {
        "name": data["name"],
        "type": ParamType(data.get("type", "str")),
        "description": data.get("description", ""),
        "min": data.get("min"),
        "max": data.get("max"),
        "pattern": data.get("pattern"),
        "choices": tuple(data.get("choices", ())),
        "items": ParamType(data.get("items", "str")),
    }
    if "default" in data:
        kwargs["default"] = data["default"]
    return ParamSpec(**kwargs)


@dataclass(frozen=True, kw_only=True)
class StoredJob:
    """A definition as the store knows it: with its version number and sync time."""

    definition: JobDefinition
    version: int
    synced_at: datetime
    removed: bool = False
    """The definition is no longer in the project; kept so its runs stay readable."""
    origin: str = "project"
    """``project`` (files under jobs/, changed by editing them) or ``api`` (defined through
    the API or dashboard, changed there)."""

    @property
    def id(self) -> str:
        return self.definition.id
