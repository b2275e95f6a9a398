"""Request limits and the per-request deadline, as ASGI middleware: they hold for every endpoint.

Before the app sees a request this checks the `X-Request-Timeout` header, then (for bodies) the JSON
nesting depth, and in a JSON object body the `messages` count, `max_tokens` / `max_completion_tokens`
and a `timeout` field. Each violation is a 400 naming the limit and the setting that raises it. The
deadline (now + the timeout asked for) goes into the context variable `request_deadline`, which the
engine supervisor reads for every engine call made while serving the request.
"""

from __future__ import annotations

import json
import math
import re
import time
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import Rejection
from service.middleware import BodyTooLarge

TIMEOUT_HEADER = "X-Request-Timeout"
request_deadline: ContextVar[float | None] = ContextVar("request_deadline", default=None)
"""`time.monotonic()` deadline of the request being served, or None when it asked for none."""

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_TOKEN_FIELDS = ("max_tokens", "max_completion_tokens")


def json_depth(body: bytes) -> int:
    """Deepest bracket nesting of a JSON text, strings skipped; linear and without recursion."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def limit_error(message: str, *, code: str, param: str | None = None) -> Rejection:
    return Rejection(400, message, "invalid_request_error", code=code, param=param)


def parse_timeout(value: object, *, maximum: float, param: str) -> float:
    """A client's timeout in seconds: a finite number in (0, maximum]."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise limit_error(
            f"{param} must be a number of seconds, got {value!r}", code="invalid_timeout", param=param
        )
    try:
        seconds = float(value)
    except ValueError:
        raise limit_error(
            f"{param} must be a number of seconds, got {value!r}", code="invalid_timeout", param=param
        ) from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise limit_error(
            f"{param} must be a positive number of seconds, got {value!r}",
            code="invalid_timeout",
            param=param,
        )
    if seconds > maximum:
        raise limit_error(
            f"{param}={seconds:g}s exceeds the server's maximum of {maximum:g}s "
            f"(ROUTER_MAX_REQUEST_TIMEOUT_SECONDS)",
            code="timeout_too_large",
            param=param,
        )
    return seconds


class RequestLimits:
    """Pure ASGI (no BaseHTTPMiddleware): the context variable it sets is seen by the endpoint's task."""

    def __init__(
        self, app: ASGIApp, *, max_json_depth: int, max_messages: int, max_tokens: int, max_timeout: float
    ) -> None:
        self.app = app
        self.max_json_depth = max_json_depth
        self.max_messages = max_messages
        self.max_tokens = max_tokens
        self.max_timeout = max_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):  # reads: no body, no engine work, no deadline
            await self.app(scope, receive, send)
            return
        try:
            timeout = self._header_timeout(scope)
            body = await _read_body(receive)
            timeout = self._check_body(scope, body) or timeout
        except BodyTooLarge as error:  # raised by BodySizeLimit's receive, outside the app's error handlers
            rejection = Rejection(413, error.detail, "invalid_request_error", code="body_too_large")
            await rejection.response()(scope, receive, send)
            return
        except Rejection as rejection:
            await rejection.response()(scope, receive, send)
            return
        token = request_deadline.set(time.monotonic() + timeout) if timeout else None
        try:
            await self.app(scope, _replay(body, receive), send)
        finally:
            if token is not None:
                request_deadline.reset(token)

    def _header_timeout(self, scope: Scope) -> float | None:
        for name, value in scope.get("headers") or ():
            if name == b"x-request-timeout":
                return parse_timeout(value.decode("latin-1"), maximum=self.max_timeout, param=TIMEOUT_HEADER)
        return None

    def _check_body(self, scope: Scope, body: bytes) -> float | None:
        content_type = dict(scope.get("headers") or ()).get(b"content-type", b"application/json")
        if not body or b"json" not in content_type.lower():
            return None
        depth = json_depth(body)
        if depth > self.max_json_depth:
            raise limit_error(
                f"JSON nesting depth {depth} exceeds the limit of {self.max_json_depth} (ROUTER_MAX_JSON_DEPTH)",
                code="json_too_deep",
            )
        try:
            data = json.loads(body)
        except json.JSONDecodeError:
            return None  # the endpoint answers with the exact parse error
        except ValueError as error:  # e.g. an integer with more digits than Python converts
            raise limit_error(f"request body is not acceptable JSON: {error}", code="invalid_json") from None
        if not isinstance(data, dict):
            return None
        messages = data.get("messages")
        if isinstance(messages, list) and len(messages) > self.max_messages:
            raise limit_error(
                f"{len(messages)} messages exceed the limit of {self.max_messages} (ROUTER_MAX_MESSAGES)",
                code="too_many_messages",
                param="messages",
            )
        for field in _TOKEN_FIELDS:
            value = data.get(field)
            if isinstance(value, int) and not isinstance(value, bool) and value > self.max_tokens:
                raise limit_error(
                    f"{field}={value} exceeds the server's limit of {self.max_tokens} tokens (ROUTER_MAX_TOKENS)",
                    code="max_tokens_too_large",
                    param=field,
                )
        if "timeout" in data and data["timeout"] is not None:
            return parse_timeout(data["timeout"], maximum=self.max_timeout, param="timeout")
        return None


async def _read_body(receive: Receive) -> bytes:
    """The whole body; its size is capped by `BodySizeLimit`, which runs outside this middleware."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client disconnected: the app sees an empty body and its own disconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later calls wait for the disconnect, as they would have

    return replay
