"""Settings for admission control, deadlines, authentication, request limits and faults (issue 8).

A mixin of `service.settings.Settings`: the fields are read from the same ROUTER_ environment variables
and a bad value stops start-up with the variable's name. Every field is documented in docs/hardening.md.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class HardeningSettings(BaseSettings):
    # --- admission control -------------------------------------------------------------------
    max_concurrent_requests: int = Field(
        default=2,
        ge=1,
        le=4096,
        description="Engine requests served at once; the rest wait in the queue. Unset, it is ROUTER_PARALLEL + 1 "
        "(the llama.cpp engine decodes that many sequences together; one more tokenises meanwhile).",
    )
    max_queued_requests: int = Field(
        default=16, ge=0, le=100_000, description="Requests that may wait for the engine; past it, 429."
    )
    max_queue_wait_seconds: float = Field(
        default=10.0, gt=0, le=3600, description="Longest wait in the queue before a 503."
    )
    # --- deadlines ---------------------------------------------------------------------------
    request_timeout_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="Deadline of a request that does not ask for one."
    )
    max_request_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="Longest deadline a client may ask for (X-Request-Timeout header or `timeout` field).",
    )
    # --- authentication ----------------------------------------------------------------------
    api_keys: SecretStr | None = Field(
        default=None, description="Comma-separated API keys accepted as `Authorization: Bearer <key>`."
    )
    api_keys_file: FilePath | None = Field(
        default=None, description="File of API keys, one per line (blank lines and # comments ignored)."
    )
    public_paths: Annotated[list[str], NoDecode] = Field(
        default=["/health", "/ready", "/metrics"],
        description="Comma-separated paths served without a key (empty: every path needs one).",
    )
    rate_limit_per_minute: int | None = Field(
        default=None, ge=1, description="Requests per minute per API key (token bucket); unset: no limit."
    )
    rate_limit_burst: int | None = Field(
        default=None,
        ge=1,
        description="Bucket size of the per-key rate limit; defaults to the per-minute rate.",
    )
    # --- request limits ----------------------------------------------------------------------
    max_messages: int = Field(default=64, ge=1, le=10_000, description="Most chat messages in one request.")
    max_json_depth: int = Field(
        default=32, ge=2, le=1000, description="Deepest JSON nesting in a request body."
    )
    # --- faults and shutdown -----------------------------------------------------------------
    engine_hang_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="How long past a request's deadline the engine may stay silent before it is declared "
        "hung and reloaded.",
    )
    engine_failure_threshold: int = Field(
        default=3, ge=1, le=1000, description="Consecutive engine failures that trigger a reload."
    )
    shutdown_grace_seconds: float = Field(
        default=30.0, ge=0, le=3600, description="On SIGTERM, how long in-flight requests may take to finish."
    )

    @field_validator("public_paths", mode="before")
    @classmethod
    def _paths(cls, value: object) -> object:
        value = _split_commas(value)
        if isinstance(value, list):
            for path in value:
                if not isinstance(path, str) or not path.startswith("/"):
                    raise ValueError(f"each public path must start with '/', got {path!r}")
        return value

    @model_validator(mode="after")
    def _timeouts_consistent(self):
        if self.request_timeout_seconds > self.max_request_timeout_seconds:
            raise ValueError(
                f"ROUTER_REQUEST_TIMEOUT_SECONDS ({self.request_timeout_seconds}) exceeds "
                f"ROUTER_MAX_REQUEST_TIMEOUT_SECONDS ({self.max_request_timeout_seconds})"
            )
        return self
