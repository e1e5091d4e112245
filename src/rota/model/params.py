"""Typed job parameters: declaration, coercion from CLI text or JSON, validation.

Parameters are stored on a run in their JSON form (dates as ISO strings) so the run shows exactly
what was validated; :meth:`ParamSpec.load` turns the JSON form back into Python values for job
code. Defaults ``today`` (date) and ``now`` (datetime) resolve at enqueue time, so a run records
the concrete value it was started with.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum
from typing import Any

from rota.model.errors import InvalidInputError

JsonValue = Any
"""A value that ``json.dumps`` accepts; kept as ``Any`` because JSON is recursive."""

NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TRUE = {"true", "yes", "on", "1", "y"}
_FALSE = {"false", "no", "off", "0", "n"}


class ParamType(StrEnum):
    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    DATE = "date"
    DATETIME = "datetime"
    CHOICE = "choice"
    LIST = "list"


_NO_DEFAULT: Any = object()


@dataclass(frozen=True, kw_only=True)
class ParamSpec:
    """One declared parameter. ``required`` is derived: only when there is no default."""

    name: str
    type: ParamType = ParamType.STR
    default: JsonValue = _NO_DEFAULT
    description: str = ""
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    items: ParamType = ParamType.STR
    """Type of the elements of a ``list`` parameter."""

    def __post_init__(self) -> None:
        if not NAME_PATTERN.fullmatch(self.name):
            raise InvalidInputError(f"params.{self.name}", "must be an identifier")
        if self.type is ParamType.CHOICE and not self.choices:
            raise InvalidInputError(f"params.{self.name}.choices", "a choice needs choices")
        if self.items in (ParamType.LIST, ParamType.CHOICE):
            raise InvalidInputError(f"params.{self.name}.items", "must be a scalar type")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise InvalidInputError(f"params.{self.name}.pattern", str(exc)) from None
        if self.has_default and self.default is not None and not self._is_dynamic_default():
            # A declared default must itself be valid; fail at definition time, not at run time.
            object.__setattr__(self, "default", self.coerce(self.default))

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT

    @property
    def required(self) -> bool:
        return not self.has_default

    def _is_dynamic_default(self) -> bool:
        return (self.type is ParamType.DATE and self.default == "today") or (
            self.type is ParamType.DATETIME and self.default == "now"
        )

    def resolve_default(self, now: datetime, tz: tzinfo = UTC) -> JsonValue:
        """``today`` is the date in ``tz``: UTC for manual runs, the schedule's zone for
        scheduled ones (a run for 00:30 Berlin time is for that Berlin day)."""
        if self.type is ParamType.DATE and self.default == "today":
            return now.astimezone(tz).date().isoformat()
        if self.type is ParamType.DATETIME and self.default == "now":
            return now.astimezone(UTC).isoformat()
        return self.default

    def coerce(self, raw: object) -> JsonValue:
        """Return the JSON form of ``raw`` or raise :class:`InvalidInputError` naming the field."""
        where = f"params.{self.name}"
        if self.type is ParamType.LIST:
            if isinstance(raw, str):
                parts: Sequence[object] = [p.strip() for p in raw.split(",")] if raw.strip() else []
            elif isinstance(raw, list | tuple):
                parts = raw
            else:
                raise InvalidInputError(where, f"expected a list, got {type(raw).__name__}")
            return [_coerce_scalar(self.items, p, f"{where}[{i}]") for i, p in enumerate(parts)]
        if self.type is ParamType.CHOICE:
            value = str(raw) if isinstance(raw, str | int | float) else None
            if value not in self.choices:
                allowed = ", ".join(self.choices)
                raise InvalidInputError(where, f"{raw!r} is not one of: {allowed}")
            return value
        value = _coerce_scalar(self.type, raw, where)
        self._check_bounds(value, where)
        return value

    def _check_bounds(self, value: JsonValue, where: str) -> None:
        if self.type in (ParamType.INT, ParamType.FLOAT):
            if self.min is not None and value < self.min:
                raise InvalidInputError(where, f"{value} is below the minimum {self.min:g}")
            if self.max is not None and value > self.max:
                raise InvalidInputError(where, f"{value} is above the maximum {self.max:g}")
        if self.type is ParamType.STR:
            if self.min is not None and len(value) < self.min:
                raise InvalidInputError(where, f"shorter than {self.min:g} characters")
            if self.max is not None and len(value) > self.max:
                raise InvalidInputError(where, f"longer than {self.max:g} characters")
        if self.pattern is not None and not re.fullmatch(self.pattern, str(value)):
            raise InvalidInputError(where, f"{value!r} does not match pattern {self.pattern!r}")

    def load(self, value: JsonValue) -> Any:
        """JSON form -> the Python value job code receives (date, datetime, ...)."""
        if value is None:
            return None
        if self.type is ParamType.DATE:
            return date.fromisoformat(value)
        if self.type is ParamType.DATETIME:
            return datetime.fromisoformat(value)
        if self.type is ParamType.LIST and self.items in (ParamType.DATE, ParamType.DATETIME):
            item = ParamSpec(name=self.name, type=self.items)
            return [item.load(v) for v in value]
        return value

    def to_json(self) -> dict[str, JsonValue]:
        out: dict[str, JsonValue] = {"name": self.name, "type": self.type.value}
        if self.has_default:
            out["default"] = self.default
        out["required"] = self.required
        for key in ("description", "min", "max", "pattern"):
            if getattr(self, key) not in (None, ""):
                out[key] = getattr(self, key)
        if self.choices:
            out["choices"] = list(self.choices)
        if self.type is ParamType.LIST:
            out["items"] = self.items.value
        return out


def _coerce_scalar(kind: ParamType, raw: object, where: str) -> JsonValue:
    if kind is ParamType.STR:
        if isinstance(raw, str):
            return raw
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return str(raw)
        raise InvalidInputError(where, f"expected text, got {type(raw).__name__}")
    if kind is ParamType.BOOL:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise InvalidInputError(where, f"expected true or false, got {raw!r}")
    if kind is ParamType.INT:
        if isinstance(raw, bool):
            raise InvalidInputError(where, "expected an integer, got a boolean")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        if isinstance(raw, str):
            try:
                return int(raw.strip())
            except ValueError:
                pass
        raise InvalidInputError(where, f"expected an integer, got {raw!r}")
    if kind is ParamType.FLOAT:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            try:
                value = float(raw)
            except OverflowError:
                raise InvalidInputError(where, "must be a finite number") from None
        elif isinstance(raw, str):
            try:
                value = float(raw.strip())
            except (ValueError, OverflowError):
                raise InvalidInputError(where, f"expected a number, got {raw!r}") from None
        else:
            raise InvalidInputError(where, f"expected a number, got {type(raw).__name__}")
        if not math.isfinite(value):
            raise InvalidInputError(where, "must be a finite number")
        return value
    if kind is ParamType.DATE:
        if isinstance(raw, datetime):
            raise InvalidInputError(where, "expected a date, got a date and time")
        if isinstance(raw, date):
            return raw.isoformat()
        if isinstance(raw, str):
            try:
                return date.fromisoformat(raw.strip()).isoformat()
            except ValueError:
                pass
        raise InvalidInputError(where, f"expected a date as YYYY-MM-DD, got {raw!r}")
    if kind is ParamType.DATETIME:
        value_dt: datetime | None = raw if isinstance(raw, datetime) else None
        if isinstance(raw, str):
            try:
                value_dt = datetime.fromisoformat(raw.strip())
            except ValueError:
                value_dt = None
        if value_dt is None:
            raise InvalidInputError(where, f"expected an ISO 8601 date and time, got {raw!r}")
        if value_dt.tzinfo is None:
            raise InvalidInputError(where, "needs a UTC offset or Z (a naive time is ambiguous)")
        try:
            return value_dt.astimezone(UTC).isoformat()
        except OverflowError:
            raise InvalidInputError(where, "is outside the supported range of dates") from None
    raise InvalidInputError(where, f"type {kind.value} is not a scalar type")


@dataclass(frozen=True)
class ParamSchema:
    """The parameters of one job, in declaration order."""

    specs: tuple[ParamSpec, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for spec in self.specs:
            if spec.name in seen:
                raise InvalidInputError(f"params.{spec.name}", "declared twice")
            seen.add(spec.name)

    def get(self, name: str) -> ParamSpec | None:
        return next((s for s in self.specs if s.name == name), None)

    def validate(
        self, given: Mapping[str, object], *, now: datetime, tz: tzinfo = UTC
    ) -> dict[str, JsonValue]:
        """Return the complete JSON parameters of a run, or raise naming the first bad field."""
        known = {s.name for s in self.specs}
        for name in given:
            if name not in known:
                hint = f" (known: {', '.join(sorted(known))})" if known else " (it takes none)"
                raise InvalidInputError(f"params.{name}", f"unknown parameter{hint}")
        out: dict[str, JsonValue] = {}
        for spec in self.specs:
            if spec.name in given and given[spec.name] is not None:
                out[spec.name] = spec.coerce(given[spec.name])
            elif spec.has_default:
                out[spec.name] = spec.resolve_default(now, tz)
            else:
                raise InvalidInputError(f"params.{spec.name}", "is required (it has no default)")
        return out

    def load(self, values: Mapping[str, JsonValue]) -> dict[str, Any]:
        return {s.name: s.load(values.get(s.name)) for s in self.specs if s.name in values}

    def to_json(self) -> list[dict[str, JsonValue]]:
        return [s.to_json() for s in self.specs]


def declare_param(name: str, declared: Mapping[str, Any]) -> ParamSpec:
    """A spec from a declaration mapping (YAML or ``@job(params=...)``), errors naming the field."""
    allowed = {"type", "default", "description", "min", "max", "pattern", "choices", "items"}
    unknown = set(declared) - allowed
    if unknown:
        raise InvalidInputError(f"params.{name}.{sorted(unknown)[0]}", "unknown parameter field")
    kwargs = dict(declared)
    try:
        kwargs["type"] = ParamType(kwargs.get("type", "str"))
        kwargs["items"] = ParamType(kwargs.get("items", "str"))
    except ValueError as exc:
        raise InvalidInputError(f"params.{name}.type", str(exc)) from None
    if "choices" in kwargs:
        kwargs["choices"] = tuple(str(c) for c in kwargs["choices"])
    kwargs.setdefault("default", _NO_DEFAULT)
    return ParamSpec(name=name, **kwargs)
