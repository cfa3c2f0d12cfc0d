"""The API's error hierarchy, rendered by one handler into one envelope."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException


class AppError(Exception):
    """An error the API reports to its caller: a message, an HTTP status and a stable code."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code


class AuthenticationError(AppError):
    """No valid credentials were presented."""

    status_code = 401
    code = "unauthorized"


class PermissionDeniedError(AppError):
    """The credentials are valid but do not allow this."""

    status_code = 403
    code = "forbidden"


class NotFoundError(AppError):
    """The thing asked for does not exist."""

    status_code = 404
    code = "not_found"


class ConflictError(AppError):
    """The request conflicts with what is stored."""

    status_code = 409
    code = "conflict"


class PayloadTooLargeError(AppError):
    """The request body is larger than allowed."""

    status_code = 413
    code = "payload_too_large"


def error_response(
    status_code: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The API's one error envelope: `{"error": {"code", "message"}}`."""
    return JSONResponse(
        status_code=status_code,
        content={"error": {"code": code, "message": message}},
        headers=headers,
    )


async def _render_app_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(exc.status_code, exc.code, exc.message, exc.headers)


class ErrorBody(BaseModel):
    """What went wrong, in words and as a stable code."""

    code: str
    message: str


class ErrorEnvelope(BaseModel):
    """Every error the API reports (422 request validation keeps FastAPI's shape)."""

    error: ErrorBody


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


async def _render_http_exception(_request: Request, exc: Exception) -> JSONResponse:
    # Starlette's own 404 and 405 (no such route, wrong method) in the same envelope.
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "Request failed."
    return JSONResponse(
        status_code=exc.status_code,
        content={
            "error": {"code": _HTTP_CODES.get(exc.status_code, "http_error"), "message": message}
        },
        headers=dict(exc.headers or {}),
    )


class _AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: a lone surrogate cannot break encoding."""

    def render(self, content: object) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


async def _render_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    # FastAPI's own shape, rendered so that input echoed back (a lone surrogate in a JSON
    # string, say) cannot turn a 422 into a 500.
    assert isinstance(exc, RequestValidationError)
    return _AsciiJSONResponse(status_code=422, content={"detail": jsonable_encoder(exc.errors())})


def install_error_handlers(app: FastAPI) -> None:
    """Render every `AppError` and HTTP error as `{"error": {"code", "message"}}`."""
    app.add_exception_handler(AppError, _render_app_error)
    app.add_exception_handler(RequestValidationError, _render_validation_error)
    app.add_exception_handler(StarletteHTTPException, _render_http_exception)
