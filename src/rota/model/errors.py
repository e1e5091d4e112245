"""One root error with families, so every face maps a failure to one exit code or HTTP status.

The CLI maps families to exit codes in ``rota.cli.errors``; later faces map them in one module
each. Job code raises :class:`JobFailed` to fail a run on purpose.
"""

from __future__ import annotations


class RotaError(Exception):
    """Root of every error Rota raises on purpose."""


class NotFoundError(RotaError, LookupError):
    """A job, run or other named thing does not exist."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class ConflictError(RotaError):
    """The request is well formed but contradicts the current state (e.g. a terminal run)."""


class InvalidInputError(RotaError, ValueError):
    """Bad input: names the field and the reason; the operation changed nothing."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class DefinitionError(InvalidInputError):
    """A job definition file is invalid; ``source`` names the file."""

    def __init__(self, source: str, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.source = source

    def __str__(self) -> str:
        return f"{self.source}: {self.field}: {self.reason}"


class StoreUnavailableError(RotaError):
    """The database cannot be reached or answered with an operational error."""


class PermissionDenied(RotaError, PermissionError):
    """The actor may not perform this operation."""


class AuthenticationError(RotaError):
    """Credentials missing, wrong, expired or revoked. The message never says which, so a
    caller cannot probe for user names or live tokens."""


class LeaseLostError(RotaError):
    """A worker tried to write for a run whose lease it no longer holds (fencing)."""


class RunCancelled(RotaError):
    """Raised inside job code by cooperative cancellation checks."""


class JobFailed(RotaError):
    """Raised by job code to fail a run with a clear message.

    ``retryable=False`` ends the run at once instead of consuming the retry policy.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable
