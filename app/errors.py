"""Errors as RFC 9457 problem details, from one set of handlers."""

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Send

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class FieldError(BaseModel):
    field: str = Field(description="Where in the request, e.g. `models[2].template`.")
    message: str


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (`application/problem+json`)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(
        default=None, description="For invalid input: each offending field."
    )
    resets_at: str | None = Field(
        default=None, description="For a spent monthly budget (402): when it resets (UTC)."
    )


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting problem-detail errors."""
    return {
        status: {"model": Problem, "content": {"application/problem+json": {}}}
        for status in statuses
    }


class ProblemError(Exception):
    """An error the API reports to its caller; subclasses set status and title."""

    status_code = 500
    title = "Internal Server Error"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field

    def headers(self) -> dict[str, str] | None:
        """Headers the answer carries besides the problem (`WWW-Authenticate`, `Retry-After`)."""
        return None

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status_code,
            "detail": self.detail,
        }
        if self.field is not None:
            body["errors"] = [{"field": self.field, "message": self.detail}]
        return body


class BadRequestError(ProblemError):
    status_code = 400
    title = "Bad Request"


class UnauthorizedError(ProblemError):
    """No key, or one the service does not know (or revoked): the caller is to send one."""

    status_code = 401
    title = "Unauthorized"

    def headers(self) -> dict[str, str] | None:
        return {"WWW-Authenticate": "Bearer"}


class ForbiddenError(ProblemError):
    """A known key without the scope the request needs."""

    status_code = 403
    title = "Forbidden"


class TooManyRequestsError(ProblemError):
    """The key's requests per minute are spent; the caller may try again after `retry_after_s`."""

    status_code = 429
    title = "Too Many Requests"

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after_s)}


class NotFoundError(ProblemError):
    status_code = 404
    title = "Not Found"


class ConflictError(ProblemError):
    """The request is valid but the resource's state does not allow it now."""

    status_code = 409
    title = "Conflict"


class InvalidFieldError(ProblemError):
    """A request that parsed but names something unusable: an unknown model, say."""

    status_code = 422
    title = "Unprocessable Content"


class PaymentRequiredError(ProblemError):
    """A budget is spent: new work is refused until it resets at `resets_at`."""

    status_code = 402
    title = "Payment Required"

    def __init__(self, detail: str, *, resets_at: str) -> None:
        super().__init__(detail)
        self.resets_at = resets_at

    def problem(self) -> dict[str, Any]:
        return {**super().problem(), "resets_at": self.resets_at}


class PayloadTooLargeError(ProblemError):
    status_code = 413
    title = "Content Too Large"


class UnavailableError(ProblemError):
    """The database cannot answer now; the caller should try again after `RETRY_AFTER_S`."""

    status_code = 503
    title = "Service Unavailable"


RETRY_AFTER_S = 5

# SQLSTATE classes and codes that mean "not now" rather than "never": connection exceptions,
# too many connections, the server shutting down or starting, a statement timeout.
_UNAVAILABLE_CLASSES = ("08", "53")
_UNAVAILABLE_CODES = frozenset({"57P01", "57P02", "57P03", "57014"})


def database_unavailable(exc: Exception) -> str | None:
    """Why `exc` means the database cannot answer now, or None if it is some other error."""
    if isinstance(exc, sqlalchemy.exc.TimeoutError):
        return "every database connection is busy"
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        if sqlstate == "57014":
            return "the database took too long to answer"
        if (
            exc.connection_invalidated
            or sqlstate.startswith(_UNAVAILABLE_CLASSES)
            or sqlstate in _UNAVAILABLE_CODES
            or isinstance(exc, sqlalchemy.exc.InterfaceError)
        ):
            return "the database cannot be reached"
        return None
    if isinstance(exc, OSError):  # asyncpg's connect: refused, unreachable, timed out
        return "the database cannot be reached"
    return None


class UnsupportedMediaTypeError(ProblemError):
    status_code = 415
    title = "Unsupported Media Type"


def problem_response(
    status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def send_problem(send: Send, problem: ProblemError) -> None:
    """Answer with `problem` from an ASGI middleware, outside the app's handlers."""
    body = json.dumps(problem.problem()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": problem.status_code,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def field_path(loc: tuple[int | str, ...]) -> str:
    """('body', 'models', 2, 'ContenderIn', 'template') -> 'models[2].template'."""
    if loc[:1] in (("header",), ("query",)) and len(loc) > 1:
        # A header's or query parameter's name, as the caller sent it (a repeated query
        # parameter has no index in the URL).
        return str(loc[1])
    path = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part[:1].isupper() or part in ("", "str", "int", "float", "[key]"):
            continue  # pydantic's names for a union member or a dict key, or an empty key
        else:
            path += f".{part}" if path else part
    return path


async def _problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc.status_code, exc.problem(), exc.headers())


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, str]] = []
    for error in exc.errors():
        field = field_path(tuple(error["loc"]))
        entry = {"field": field, "message": error["msg"]}
        if entry not in errors:
            errors.append(entry)
    detail = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors[:5])
    body = {
        "type": "about:blank",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": detail,
        "errors": errors,
    }
    return problem_response(422, body)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method served at the request's path. Starlette's 405 names only those of the
    first route matching the path, and `/runs/{id}` has two (GET and DELETE); so each method
    is tried against all routes, however routers nest them."""
    return ", ".join(
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    )


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    body = {
        "type": "about:blank",
        "title": _title(exc.status_code),
        "status": exc.status_code,
        "detail": str(exc.detail),
    }
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": _allowed_methods(request)}
    return problem_response(exc.status_code, body, headers=headers)


async def _database(request: Request, exc: Exception) -> JSONResponse:
    """503 with Retry-After while the database cannot answer; other errors are bugs."""
    reason = database_unavailable(exc)
    if reason is None:
        return await _unexpected(request, exc)
    log.warning("answered 503: %s (%s: %s)", reason, type(exc).__name__, exc)
    problem = UnavailableError(f"{reason}; try again in a few seconds")
    return problem_response(503, problem.problem(), headers={"Retry-After": str(RETRY_AFTER_S)})


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    body = {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "The server failed to handle this request; it has been logged.",
    }
    return problem_response(500, body)


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    # Registered by class, not left to the catch-all: that one re-raises after answering,
    # which closes the connection.
    app.add_exception_handler(sqlalchemy.exc.SQLAlchemyError, _database)
    app.add_exception_handler(OSError, _database)
    app.add_exception_handler(Exception, _unexpected)
