"""Every error leaves as JSON in one shape, `{"error": {"message", "type", "param", "code"}}`.

Bad input is a 4xx that names the problem; an engine failure is a 502/503 with the reason; anything
unexpected is a 500 whose body says so without a stack trace (the trace goes to the log).
"""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.engines import DeadlineExceeded, EngineError

log = logging.getLogger(__name__)


class EngineNotReady(RuntimeError):
    """The model is still loading, or failed to load."""


class Rejection(Exception):
    """A request refused before or instead of its answer (overload, auth, limits, a failed engine).

    Carries its HTTP status, error type and code, and `retry_after` seconds for 429/503.
    """

    def __init__(
        self,
        status: int,
        message: str,
        type_: str,
        *,
        code: str,
        param: str | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param
        self.headers = dict(headers or {})
        if retry_after is not None:
            self.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))

    def response(self) -> JSONResponse:
        return error_response(
            self.status, self.message, self.type, param=self.param, code=self.code, headers=self.headers
        )


def error_response(
    status: int, message: str, type_: str, *, param: str | None = None, code: str | None = None, headers=None
) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _describe(error: dict) -> tuple[str, str | None]:
    """One validation problem as (message, param), e.g. ("query: Field required", "query")."""
    loc = [str(part) for part in error.get("loc", ()) if part != "body"]
    param = ".".join(loc) or None
    if error.get("type") == "json_invalid":
        return f"request body is not valid JSON: {error.get('ctx', {}).get('error', error['msg'])}", None
    if error.get("type") == "model_attributes_type":
        return "request body must be a JSON object", None
    return (f"{param}: {error['msg']}" if param else error["msg"]), param


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_describe(e) for e in exc.errors()]
        message = "; ".join(m for m, _ in problems) or "invalid request"
        return error_response(422, message, "invalid_request_error", param=problems[0][1] if problems else None)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return error_response(exc.status_code, str(exc.detail), kind, headers=exc.headers)

    @app.exception_handler(EngineNotReady)
    async def _not_ready(request: Request, exc: EngineNotReady) -> JSONResponse:
        return error_response(503, str(exc), "service_unavailable", headers={"Retry-After": "5"})

    @app.exception_handler(Rejection)
    async def _rejected(request: Request, exc: Rejection) -> JSONResponse:
        return exc.response()

    @app.exception_handler(DeadlineExceeded)
    async def _deadline(request: Request, exc: DeadlineExceeded) -> JSONResponse:
        message = f"the request ran past its deadline: {exc}"
        return error_response(504, message, "timeout_error", code="deadline_exceeded")

    @app.exception_handler(EngineError)
    async def _engine(request: Request, exc: EngineError) -> JSONResponse:
        log.warning("engine error on %s: %s", request.url.path, exc)
        return error_response(502, str(exc), "engine_error")

    @app.exception_handler(ValueError)
    async def _value(request: Request, exc: ValueError) -> JSONResponse:
        # Raised by engines for requests they cannot serve (e.g. a prompt longer than the context).
        return error_response(400, str(exc), "invalid_request_error")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return error_response(500, f"internal error ({type(exc).__name__}); see the server log", "server_error")
