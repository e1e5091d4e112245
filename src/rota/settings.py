"""Settings from the environment (``ROTA_*``) over an optional ``rota.toml`` over defaults.

The project folder comes first (``ROTA_PROJECT`` or the current folder) because ``rota.toml``
and the default SQLite file live in it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rota.model.errors import InvalidInputError
from rota.model.resources import ResourceDefinition

if TYPE_CHECKING:
    from rota.net.guard import OutgoingPolicy

CONFIG_FILE = "rota.toml"
LEASE_RULE = "must be longer than heartbeat_seconds (a lease must outlive a missed heartbeat)"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROTA_", extra="forbid", frozen=True)

    project: Path = Field(default_factory=Path.cwd, description="The project folder.")
    database_url: str = Field(
        default="", description="SQLAlchemy URL; default: SQLite file .rota/rota.db in the project."
    )
    heartbeat_seconds: float = Field(default=10.0, ge=0.5, description="Lease renewal interval.")
    lease_seconds: float = Field(
        default=30.0, ge=0.5, description="How long a claim lives unrenewed."
    )
    worker_concurrency: int = Field(
        default=4, ge=1, le=256, description="Runs a worker runs at once."
    )
    poll_seconds: float = Field(
        default=0.5, ge=0.01, description="Idle poll interval for new runs."
    )
    cancel_grace_seconds: float = Field(
        default=10.0, ge=0, description="Wait after a cancel request before a hard stop."
    )
    shutdown_grace_seconds: float = Field(
        default=30.0, ge=0, description="On SIGTERM, how long running runs may finish."
    )
    unreachable_exit_seconds: float = Field(
        default=60.0,
        ge=5,
        description="A worker or scheduler that cannot reach the database this long exits (code 4).",
    )
    retention_days: int = Field(
        default=0,
        ge=0,
        description="Days ended runs and occurrences are kept; 0 keeps everything.",
    )
    sqlite_synchronous: Literal["FULL", "NORMAL", "EXTRA"] = Field(
        default="FULL", description="SQLite durability: FULL survives power loss."
    )
    timezone: str = Field(
        default="UTC", description="Zone of schedules that do not name one (IANA name)."
    )
    service_account: str = Field(
        default="rota", description="Identity scheduled runs act as (`run_as`)."
    )
    connections: dict[str, str] = Field(
        default_factory=dict,
        description="Named SQL connections of data jobs (`[connections]` in rota.toml).",
    )
    data_folders: list[Path] = Field(
        default_factory=lambda: [Path("data")],
        description="Folders data jobs may read and write files in (`[data] folders`).",
    )
    resources: dict[str, int | dict[str, Any]] = Field(
        default_factory=dict,
        description="Resources and their capacity (`[resources]`: name = 2 or {capacity, description}).",
    )
    limits: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="Runs at once per group or tenant (`[limits.groups]`, `[limits.tenants]`).",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(""),
        description="Key of the secret store (set it in the environment, never in rota.toml).",
    )
    secret_key_file: Path = Field(
        default=Path(".rota/secret.key"),
        description="Key file used when `ROTA_SECRET_KEY` is unset; created owner-only.",
    )
    outgoing_allow: list[str] = Field(
        default_factory=list,
        description="Internal addresses, networks and host names Rota's own HTTP requests may "
        "reach (`[outgoing] allow`); public addresses need no entry.",
    )
    smtp_host: str = Field(
        default="", description="SMTP server of e-mail notifications (`[smtp] host`); unset: none."
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port (`[smtp] port`).")
    smtp_sender: str = Field(
        default="", description="From address of e-mail notifications (`[smtp] sender`)."
    )
    smtp_username: str = Field(default="", description="SMTP login (`[smtp] username`).")
    smtp_password: SecretStr = Field(
        default=SecretStr(""),
        description="SMTP password (environment only, never in rota.toml).",
    )
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="`starttls`, `ssl` (SMTPS) or `none` (`[smtp] security`)."
    )
    smtp_timeout: float = Field(
        default=30.0, gt=0, le=600, description="Seconds an SMTP conversation may take."
    )
    notify_max_attempts: int = Field(
        default=8,
        ge=1,
        le=100,
        description="Deliveries of one notification tried before it is given up (backoff between).",
    )
    host: str = Field(default="127.0.0.1", description="Address `rota up` listens on.")
    port: int = Field(default=8080, ge=0, le=65535, description="Port `rota up` listens on.")
    session_idle_minutes: float = Field(
        default=30.0, gt=0, description="A dashboard login ends after this long without a request."
    )
    session_max_hours: float = Field(
        default=12.0,
        gt=0,
        description="A dashboard login ends this long after it began, in use or not.",
    )

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.lease_seconds <= self.heartbeat_seconds:
            raise ValueError(LEASE_RULE)
        from rota.schedules.zones import zone

        zone(self.timezone, "timezone")
        return self

    @field_validator("outgoing_allow")
    @classmethod
    def _check_allow(cls, value: list[str]) -> list[str]:
        from rota.net.guard import OutgoingPolicy

        OutgoingPolicy.parse(value)
        return value

    @field_validator("smtp_sender")
    @classmethod
    def _check_sender(cls, value: str) -> str:
        from rota.model.notify import check_address

        return check_address(value, "smtp.sender") if value else value

    @property
    def outgoing_policy(self) -> OutgoingPolicy:
        """``[outgoing] allow`` as the guard's policy (see :mod:`rota.net.guard`)."""
        from rota.net.guard import OutgoingPolicy

        return OutgoingPolicy.parse(self.outgoing_allow)

    @property
    def resource_definitions(self) -> list[ResourceDefinition]:
        """``[resources]`` and ``[limits]`` as resources (limits are ``group:`` and
        ``tenant:`` resources whose capacity is the limit)."""
        out = []
        for name, value in self.resources.items():
            body = value if isinstance(value, dict) else {"capacity": value}
            unknown = set(body) - {"capacity", "description"}
            if unknown:
                raise InvalidInputError(f"resources.{name}", f"unknown keys {sorted(unknown)}")
            out.append(ResourceDefinition(name=name, **body))
        for kind, table in self.limits.items():
            if kind not in ("groups", "tenants"):
                raise InvalidInputError(
                    f"limits.{kind}", "only [limits.groups] and [limits.tenants]"
                )
            for name, capacity in table.items():
                out.append(ResourceDefinition(name=f"{kind[:-1]}:{name}", capacity=capacity))
        return out

    @property
    def resolved_data_folders(self) -> list[Path]:
        """Absolute data folders; relative ones are inside the project folder."""
        return [(self.project / folder).resolve() for folder in self.data_folders]

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.project / '.rota' / 'rota.db').resolve()}"

    @property
    def reaper_seconds(self) -> float:
        """The reaper sweeps as often as workers heartbeat."""
        return self.heartbeat_seconds


def load_settings(project: Path | None = None, **overrides: Any) -> Settings:
    """Environment beats ``rota.toml`` beats defaults; explicit ``overrides`` beat all."""
    folder = (project or Path(os.environ.get("ROTA_PROJECT") or Path.cwd())).resolve()
    from_file = _read_config(folder)
    if "project" in from_file:
        # A rota.toml may point at the project folder (e.g. a repository root -> examples/).
        folder = (folder / str(from_file["project"])).resolve()
        from_file = _read_config(folder)
        from_file.pop("project", None)
    values = {k: v for k, v in from_file.items() if f"ROTA_{k.upper()}" not in os.environ}
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["project"] = folder
    try:
        return Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "lease_seconds"
        raise InvalidInputError(field, first["msg"].removeprefix("Value error, ")) from None


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(CONFIG_FILE, f"not valid TOML: {exc}") from None
    data = document.get("rota", {})
    if not isinstance(data, dict):
        raise InvalidInputError(CONFIG_FILE, "[rota] must be a table")
    if "secret_key" in data:
        raise InvalidInputError(
            "secret_key", "set ROTA_SECRET_KEY in the environment, never in rota.toml"
        )
    # Data jobs' tables: [connections] name = "url", and [data] folders = [...].
    if "connections" in document:
        data = {**data, "connections": document["connections"]}
    extra = document.get("data", {})
    if isinstance(extra, dict) and "folders" in extra:
        data = {**data, "data_folders": extra["folders"]}
    for table in ("resources", "limits"):
        if table in document:
            data = {**data, table: document[table]}
    if "smtp_password" in data:
        raise InvalidInputError(SMTP_PASSWORD, PASSWORD_RULE)
    outgoing = document.get("outgoing", {})
    if isinstance(outgoing, dict) and "allow" in outgoing:
        data = {**data, "outgoing_allow": outgoing["allow"]}
    return {**data, **_smtp_table(document.get("smtp", {}))}


SMTP_PASSWORD = "smtp.password"
PASSWORD_RULE = "set ROTA_SMTP_PASSWORD in the environment, never in rota.toml"
SMTP_KEYS = ("host", "port", "sender", "username", "security", "timeout")


def _smtp_table(table: object) -> dict[str, Any]:
    """``[smtp]`` keys as ``smtp_*`` settings; the password is refused (environment only)."""
    if not isinstance(table, dict):
        raise InvalidInputError("smtp", "must be a table")
    if "password" in table:
        raise InvalidInputError(SMTP_PASSWORD, PASSWORD_RULE)
    for key in table:
        if key not in SMTP_KEYS:
            raise InvalidInputError(f"smtp.{key}", f"unknown key (known: {', '.join(SMTP_KEYS)})")
    return {f"smtp_{key}": value for key, value in table.items()}
