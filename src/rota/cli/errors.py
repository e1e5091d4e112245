"""Exit codes, in one place. Documented in docs/cli.md; scripts depend on them."""

from __future__ import annotations

from enum import IntEnum

from rota.model.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDenied,
    RotaError,
    StoreUnavailableError,
)
from rota.model.status import RunStatus


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    """The run failed or was canceled; or an unexpected error."""
    BAD_INPUT = 2
    """Unknown job or run, bad parameter, missing confirmation, conflicting state."""
    PARTIAL = 3
    """The run ended ``partial``: some records failed."""
    STORE_UNAVAILABLE = 4
    PERMISSION_DENIED = 5
    INTERRUPTED = 130


def exit_code_for_error(error: RotaError) -> ExitCode:
    if isinstance(error, InvalidInputError | NotFoundError | ConflictError):
        return ExitCode.BAD_INPUT
    if isinstance(error, StoreUnavailableError):
        return ExitCode.STORE_UNAVAILABLE
    if isinstance(error, PermissionDenied):
        return ExitCode.PERMISSION_DENIED
    return ExitCode.FAILED


def exit_code_for_status(status: RunStatus) -> ExitCode:
    if status is RunStatus.COMPLETED:
        return ExitCode.OK
    if status is RunStatus.PARTIAL:
        return ExitCode.PARTIAL
    return ExitCode.FAILED
