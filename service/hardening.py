"""Puts issue 8's guards on an app: authentication, request limits, deadlines, and documents them.

`install_hardening(app, state)` adds two ASGI middlewares that hold for every path, present and future:
`Authenticate` (outer: no body is read for an unauthenticated caller) and `RequestLimits` (inner). It
must be called before the app's `BodySizeLimit` is added, so the size cap wraps both. It also rewrites
the OpenAPI document so every operation lists the errors these guards can answer (schemathesis checks
that every response is documented).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI

from service.auth import OPEN_WARNING, Authenticate, KeyRing, RateLimiter, read_keys
from service.limits import TIMEOUT_HEADER, RequestLimits
from service.protocol import ErrorResponse
from service.settings import Settings

log = logging.getLogger(__name__)

_BODY_METHODS = ("post", "put", "patch")
_GUARD_ERRORS = {
    "400": "A request limit was exceeded (JSON depth, message count, max_tokens) or the timeout is invalid; "
    "the error names the limit.",
    "413": "The body exceeds the size limit.",
    "429": "The server is at capacity (queue full) or this key's rate limit is spent; see Retry-After.",
    "503": "The model is loading, the engine failed or is being reloaded, or the queue wait ran out; "
    "see Retry-After.",
    "504": "The request ran past its deadline.",
}


def install_hardening(app: FastAPI, settings: Settings, registry) -> None:
    keys = KeyRing(
        read_keys(settings.api_keys.get_secret_value() if settings.api_keys else None, settings.api_keys_file)
    )
    if not keys:
        banner = "!" * 100
        log.warning("%s\n" + OPEN_WARNING + "\n%s", banner, settings.host, settings.port, banner)
    else:
        log.info("API keys required (%d configured); public paths: %s", len(keys), settings.public_paths)
    limiter = None
    if keys and settings.rate_limit_per_minute:
        limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    app.add_middleware(
        RequestLimits,
        max_json_depth=settings.max_json_depth,
        max_messages=settings.max_messages,
        max_tokens=settings.max_tokens,
        max_timeout=settings.max_request_timeout_seconds,
    )
    app.add_middleware(
        Authenticate, keys=keys, public_paths=settings.public_paths, limiter=limiter, registry=registry
    )
    _document(app, settings, secured=bool(keys))


def _document(app: FastAPI, settings: Settings, *, secured: bool) -> None:
    """Wrap `app.openapi` so every operation documents the guards' errors (computed once, cached)."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(error_schema.pop("$defs", {}))
        schemas.setdefault("ErrorResponse", error_schema)
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
        if secured:
            components.setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
        bounds = {
            "timeout": {"maximum": settings.max_request_timeout_seconds},
            "max_tokens": {"maximum": settings.max_tokens},
            "max_completion_tokens": {"maximum": settings.max_tokens},
            "messages": {"maxItems": settings.max_messages},
        }
        for model in schemas.values():  # request fields RequestLimits bounds, wherever they appear
            for name, field in (model.get("properties") or {}).items():
                if name in bounds:
                    _bound(field, bounds[name])
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                if "422" in responses:  # our handler answers 422 in the error shape, not FastAPI's
                    responses["422"] = {
                        "description": responses["422"].get("description", "Invalid request"),
                        "content": error,
                    }
                if method in _BODY_METHODS:
                    operation.setdefault("parameters", []).append(_timeout_parameter(settings))
                    for status, description in _GUARD_ERRORS.items():
                        responses.setdefault(status, {"description": description, "content": error})
                if secured and path not in settings.public_paths:
                    operation["security"] = [{"bearer": []}]
                    responses.setdefault(
                        "401", {"description": "Missing or invalid API key.", "content": error}
                    )
                    responses.setdefault("429", {"description": _GUARD_ERRORS["429"], "content": error})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi


def _bound(field: dict, bound: dict) -> None:
    """Add a maximum (numbers) or maxItems (arrays) to a property schema, inside `anyOf` branches too."""
    for branch in field.get("anyOf", [field]):
        kind = branch.get("type")
        if ("maximum" in bound and kind in ("number", "integer")) or (
            "maxItems" in bound and kind == "array"
        ):
            for key, limit in bound.items():
                branch[key] = min(branch.get(key, limit), limit)


def _timeout_parameter(settings: Settings) -> dict:
    max_timeout = settings.max_request_timeout_seconds
    return {
        "name": TIMEOUT_HEADER,
        "in": "header",
        "required": False,
        "description": f"Seconds this request may take, at most {max_timeout:g} (ROUTER_MAX_REQUEST_TIMEOUT_SECONDS); "
        "past it the answer is 504.",
        "schema": {"type": "number", "exclusiveMinimum": 0, "maximum": max_timeout},
    }
