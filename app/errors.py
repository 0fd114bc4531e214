"""Errors as RFC 9457 problem details, from one set of handlers."""

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class ProblemError(Exception):
    """An error the API reports to its caller; subclasses set status and title."""

    status_code = 500
    title = "Internal Server Error"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field

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


class PayloadTooLargeError(ProblemError):
    status_code = 413
    title = "Content Too Large"


def problem_response(
    status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_path(loc: tuple[int | str, ...]) -> str:
    """('body', 'models', 2, 'ContenderIn', 'template') -> 'models[2].template'."""
    if loc[:1] == ("header",) and len(loc) > 1:
        return str(loc[1])  # a header's name, as the caller sent it
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
    return problem_response(exc.status_code, exc.problem())


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


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    body = {
        "type": "about:blank",
        "title": _title(exc.status_code),
        "status": exc.status_code,
        "detail": str(exc.detail),
    }
    return problem_response(exc.status_code, body, headers=exc.headers)


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
    app.add_exception_handler(Exception, _unexpected)
