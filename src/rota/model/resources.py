"""Resources: named locks or capacities that runs hold from being queued until they end.

A resource has a capacity of *units* (1 = an exclusive lock). An exclusive holder takes one
unit; all shared holders together take one unit, so with capacity 1 a resource is held either
by one exclusive run or by any number of shared ones (a readers-writer lock), and with capacity
3 by up to three holders. A run gets every resource it claims at once or none (so two runs can
never deadlock on each other), waits ``pending`` otherwise, and waiters are served in priority
order (highest first, then oldest): a newer run never overtakes an older waiter of the same
resource, so a stream of shared holders cannot starve an exclusive one.

Some claims are *conditional*: they count only when a resource of that name is defined. Job
concurrency limits (``job:ID``), group and tenant limits (``group:NAME``, ``tenant:NAME``) and
the shared ``running:ID`` that lets another job exclude this one are such claims, so that jobs
without limits pay nothing for them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from rota.model.errors import InvalidInputError
from rota.model.params import JsonValue

RESOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$")
LIMIT_PREFIXES = ("job:", "group:", "tenant:", "running:")
"""Names Rota derives from job definitions and settings; not declarable as plain resources."""


def check_resource_name(field: str, name: str) -> str:
    if not isinstance(name, str) or not RESOURCE_NAME.fullmatch(name):
        raise InvalidInputError(
            field, f"{name!r} must be 1-128 letters, digits or . _ : @ / - (starting alnum)"
        )
    return name


@dataclass(frozen=True, order=True)
class ResourceClaim:
    name: str
    shared: bool = False
    conditional: bool = False
    """Counts only when a resource with this name is defined (limits, exclusion targets)."""

    def to_json(self) -> dict[str, JsonValue]:
        return {"name": self.name, "shared": self.shared, "conditional": self.conditional}

    @classmethod
    def from_json(cls, data: dict[str, JsonValue]) -> ResourceClaim:
        return cls(str(data["name"]), bool(data.get("shared")), bool(data.get("conditional")))


def parse_claims(value: object, field: str = "resources") -> tuple[ResourceClaim, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise InvalidInputError(field, "must be a list of resource names")
    claims: dict[str, ResourceClaim] = {}
    for n, item in enumerate(value):
        where = f"{field}[{n}]"
        if isinstance(item, ResourceClaim):
            claim = item
        elif isinstance(item, str):
            claim = ResourceClaim(check_resource_name(where, item))
        elif isinstance(item, Mapping):
            unknown = set(item) - {"name", "shared"}
            if unknown:
                raise InvalidInputError(where, f"unknown keys {sorted(unknown)} (name, shared)")
            name = item.get("name")
            shared = item.get("shared", False)
            if not isinstance(shared, bool):
                raise InvalidInputError(f"{where}.shared", "must be true or false")
            claim = ResourceClaim(check_resource_name(f"{where}.name", str(name)), shared=shared)
        else:
            raise InvalidInputError(where, "must be a name or {name: ..., shared: true}")
        if claim.name.startswith(LIMIT_PREFIXES):
            raise InvalidInputError(
                where, f"{claim.name!r}: names starting {', '.join(LIMIT_PREFIXES)} are Rota's"
            )
        if claim.name in claims:
            raise InvalidInputError(where, f"{claim.name!r} is named twice")
        claims[claim.name] = claim
    return tuple(claims.values())


def shared(name: str) -> ResourceClaim:
    """``@job(resources=[shared("erp-customers")])``: holders that may overlap each other."""
    return ResourceClaim(check_resource_name("resources", name), shared=True)


@dataclass(frozen=True, kw_only=True)
class ResourceDefinition:
    """A resource as configured (``[resources]`` in rota.toml, or derived from a limit)."""

    name: str
    capacity: int = 1
    description: str = ""

    def __post_init__(self) -> None:
        check_resource_name(f"resources.{self.name}", self.name)
        if not 1 <= self.capacity <= 100_000:
            raise InvalidInputError(
                f"resources.{self.name}.capacity", "must be between 1 and 100000"
            )


@dataclass(frozen=True, kw_only=True)
class Holder:
    run_id: int
    job: str
    shared: bool
    granted: bool
    priority: int
    since: datetime | None

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "run_id": self.run_id,
            "job": self.job,
            "shared": self.shared,
            "priority": self.priority,
        }


@dataclass(frozen=True, kw_only=True)
class ResourceState:
    """A resource with who holds it and who waits for it (``rota resources list``)."""

    name: str
    capacity: int
    description: str
    defined: bool
    """False for a resource created on first use (capacity 1) rather than configured."""
    holders: tuple[Holder, ...] = ()
    waiters: tuple[Holder, ...] = ()

    @property
    def used(self) -> int:
        exclusive = sum(1 for h in self.holders if not h.shared)
        return exclusive + (1 if any(h.shared for h in self.holders) else 0)

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "name": self.name,
            "capacity": self.capacity,
            "used": self.used,
            "description": self.description,
            "defined": self.defined,
            "holders": [h.to_json() for h in self.holders],
            "waiters": [h.to_json() for h in self.waiters],
        }


def units_free(capacity: int, holders: list[tuple[int, bool]], claim_shared: bool) -> bool:
    """Whether one more holder fits: ``holders`` are ``(run_id, shared)`` of granted claims."""
    exclusive = sum(1 for _, s in holders if not s)
    any_shared = any(s for _, s in holders)
    used = exclusive + (1 if any_shared else 0)
    if claim_shared and any_shared:
        return True
    return used < capacity
