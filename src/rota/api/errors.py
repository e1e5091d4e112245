"""One error format for every answer of the HTTP API: ``{"type", "message", "field"}``.

The domain raises :mod:`rota.model.errors` families; this module is the only place that turns
them into HTTP statuses, so the CLI's exit codes and the API's statuses stay two views of one
classification. Unexpected errors answer a generic 500 and go to the server log: a stack trace
or a database message can carry details a caller must not see.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from rota.hooks.signatures import SignatureError
from rota.model.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDenied,
    RotaError,
    StoreUnavailableError,
)

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """What every failed request answers."""

    model_config = ConfigDict(extra="forbid")

    type: str
    message: str
    field: str | None = None


class ApiError(Exception):
    """An HTTP failure decided by the API itself (no credentials, CSRF, body too large)."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.field = field
        self.headers = headers


def error_response(
    status: int,
    type_: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"type": type_, "message": message, "field": field}
    return JSONResponse(body, status_code=status, headers=headers)


def classify(exc: RotaError) -> tuple[int, str, str, str | None]:
    """``(status, type, message, field)`` of a domain error."""
    if isinstance(exc, SignatureError):
        return 401, "signature", exc.reason, None
    if isinstance(exc, AuthenticationError):
        return 401, "unauthenticated", str(exc) or "authentication required", None
    if isinstance(exc, NotFoundError):
        return 404, "not_found", str(exc), None
    if isinstance(exc, InvalidInputError):
        return 422, "invalid", exc.reason, exc.field
    if isinstance(exc, ConflictError):
        return 409, "conflict", str(exc), None
    if isinstance(exc, PermissionDenied):
        return 403, "forbidden", str(exc), None
    if isinstance(exc, StoreUnavailableError):
        return 503, "unavailable", "the database is unavailable; try again later", None
    return 500, "internal", "internal error: see the server log", None


def rota_error_response(exc: RotaError) -> JSONResponse:
    status, type_, message, field = classify(exc)
    if status >= 500:
        log.warning("%s: %s", type(exc).__name__, exc)
    headers = {"WWW-Authenticate": "Bearer"} if type_ == "unauthenticated" else None
    return error_response(status, type_, message, field, headers)


def field_path(location: Sequence[int | str]) -> str:
    """``("body", "params", "date")`` -> ``params.date``: the names callers wrote."""
    parts = [str(p) for p in location]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or str(location[0] if location else "body")


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors: Sequence[Any] = exc.errors()
    if not errors:
        return error_response(422, "invalid", "invalid request")
    first = errors[0]
    loc = first.get("loc", ())
    kind = first.get("type", "")
    message = str(first.get("msg", "invalid"))
    if kind == "extra_forbidden":
        message = "unknown field (not accepted here)"
    elif kind == "json_invalid":
        return error_response(422, "invalid", "the body is not valid JSON", "body")
    return error_response(422, "invalid", message, field_path(loc))


def allowed_methods(request: Request) -> list[str]:
    """Every method the app serves at the request's path (the routes of one path can live
    in several routers, so the router that answered 405 does not know them all)."""
    app = request.app
    if not hasattr(app.state, "path_methods"):
        table = []
        for template, operations in app.openapi()["paths"].items():
            pattern = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template))
            table.append((re.compile(pattern), sorted(m.upper() for m in operations)))
        app.state.path_methods = table
    path = request.url.path
    return sorted(
        {
            m
            for pattern, methods in app.state.path_methods
            if pattern.fullmatch(path)
            for m in methods
        }
    )


def install(app: FastAPI) -> None:
    """Register the handlers; every error leaves the API in the one format."""

    async def on_rota_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RotaError)
        return rota_error_response(exc)

    async def on_api_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.type, exc.message, exc.field, exc.headers)

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _validation_response(exc)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400:  # a body FastAPI could not even decode
            return error_response(422, "invalid", "the body is not valid JSON", "body")
        types = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        message = str(exc.detail) if exc.detail else "error"
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return error_response(
            exc.status_code,
            types.get(exc.status_code, "error"),
            message,
            headers=headers or None,
        )

    async def on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return error_response(500, "internal", "internal error: see the server log")

    app.add_exception_handler(RotaError, on_rota_error)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no or bad credentials"},
    403: {"model": ErrorBody, "description": "not allowed, or a missing CSRF token"},
    404: {"model": ErrorBody, "description": "unknown, or in a tenant you cannot see"},
    409: {"model": ErrorBody, "description": "the state forbids it"},
    422: {"model": ErrorBody, "description": "bad input; `field` names it"},
    503: {"model": ErrorBody, "description": "the database is unavailable"},
}
"""Documented on every authenticated route."""
