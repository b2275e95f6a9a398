"""The remote engine: any OpenAI-compatible server (`vllm serve`, llama-cpp-python, a hosted model).

The schema travels the way the server understands it (`constraint`):

- `response_format`: OpenAI's `{"type": "json_schema", "json_schema": {"schema": ..., "strict": true}}`
  (vLLM, OpenAI, most hosted servers);
- `structured_outputs`: vLLM's own `{"structured_outputs": {"json": ...}}` body field;
- `json_object`: `{"type": "json_object", "schema": ...}` (llama-cpp-python's server, Anyscale style).

A server that accepts a request but ignores its constraint is worse than one that fails, so `start()`
runs a canary: a schema whose only valid answer is a random string the model would never write unforced.
A server that does not return exactly that string is refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

import httpx
from pydantic import AnyHttpUrl, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.engines.base import DeadlineExceeded, Engine, EngineError, Generation, GenerationRequest
from service.engines.config import load_engine_settings

log = logging.getLogger(__name__)

ENV_PREFIX = "ROUTER_REMOTE_"
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
Constraint = Literal["response_format", "structured_outputs", "json_object"]


class RemoteSettings(BaseSettings):
    """The remote engine's settings, from ROUTER_REMOTE_* variables."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    base_url: AnyHttpUrl = Field(description="The server's OpenAI API root, e.g. http://vllm:8000/v1.")
    model: str = Field(min_length=1, description="Model name to request (a LoRA adapter's name on vLLM).")
    api_key: SecretStr | None = Field(default=None, description="Bearer token, if the server wants one.")
    constraint: Constraint = Field(default="response_format", description="How the schema is sent.")
    adapters: list[str] = Field(
        default_factory=list, description="Adapters the server serves; a request's adapter becomes its model."
    )
    timeout_s: float = Field(default=30.0, gt=0, description="Whole-request timeout per attempt.")
    connect_timeout_s: float = Field(default=5.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10, description="Retries on connection errors, 429 and 5xx.")
    backoff_s: float = Field(
        default=0.25, ge=0, description="First retry delay; doubles each retry, with jitter."
    )
    canary: bool = Field(default=True, description="Prove at start that the server enforces the schema.")


def load_remote_settings(**overrides: Any) -> RemoteSettings:
    """Read ROUTER_REMOTE_* settings, naming the variable of any bad value."""
    return load_engine_settings(RemoteSettings, ENV_PREFIX, **overrides)


class ConstraintIgnored(EngineError):
    """The server answered, but not under the schema it was given."""


def to_request_body(request: GenerationRequest, settings: RemoteSettings, *, stream: bool = False) -> dict:
    """Our request as an OpenAI chat-completions body, the schema in the server's dialect."""
    if request.adapter is not None and request.adapter not in settings.adapters:
        loaded = ", ".join(settings.adapters) or "none"
        raise ValueError(f"adapter {request.adapter!r} is not served; served adapters: {loaded}")
    body: dict[str, Any] = {
        "model": request.adapter or settings.model,
        "messages": request.messages,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stream": stream,
    }
    if request.ignore_eos:
        body["ignore_eos"] = True  # vLLM and llama.cpp extension; others ignore it
    schema = request.json_schema
    if schema is not None:
        if settings.constraint == "response_format":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "decision", "schema": schema, "strict": True},
            }
        elif settings.constraint == "structured_outputs":
            body["structured_outputs"] = {"json": schema}
        else:
            body["response_format"] = {"type": "json_object", "schema": schema}
    return body


def canary_schema(value: str) -> dict:
    """A schema whose only valid document is {"canary": value}."""
    return {
        "type": "object",
        "properties": {"canary": {"type": "string", "enum": [value]}},
        "required": ["canary"],
        "additionalProperties": False,
    }


class RemoteEngine(Engine):
    name = "remote"

    def __init__(self, settings: RemoteSettings) -> None:
        self.settings = settings
        self.model_name = settings.model
        self.adapter_name = None
        headers = (
            {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"} if settings.api_key else {}
        )
        self._client = httpx.AsyncClient(
            base_url=str(settings.base_url).rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
        )

    def adapters(self) -> dict[str, str]:
        return {name: f"{self.settings.base_url} model {name}" for name in self.settings.adapters}

    # --- HTTP with retries ---------------------------------------------------------------------

    async def _post(self, body: dict, deadline: float | None) -> dict:
        last = "no attempt made"
        for attempt in range(self.settings.max_retries + 1):
            if attempt:
                delay = self.settings.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random())
                if deadline is not None and time.monotonic() + delay > deadline:
                    raise DeadlineExceeded(f"deadline reached while retrying the remote server ({last})")
                await asyncio.sleep(delay)
            try:
                timeout = self._timeout(deadline)
                response = await self._client.post("chat/completions", json=body, timeout=timeout)
            except httpx.TransportError as error:  # connect errors and timeouts
                last = f"{type(error).__name__}: {error}"
                continue
            if response.status_code in RETRY_STATUS:
                last = f"HTTP {response.status_code}: {response.text[:300]}"
                continue
            if response.status_code >= 400:
                raise EngineError(
                    f"the remote server refused the request (HTTP {response.status_code}): "
                    f"{response.text[:500]}{self._hint(response.text)}"
                )
            try:
                return response.json()
            except ValueError:
                raise EngineError(f"the remote server sent non-JSON: {response.text[:200]!r}") from None
        raise EngineError(
            f"the remote server at {self.settings.base_url} failed after "
            f"{self.settings.max_retries + 1} attempts: {last}{self._hint(last)}"
        )

    def _timeout(self, deadline: float | None) -> httpx.Timeout:
        total = self.settings.timeout_s
        if deadline is not None:
            total = max(0.001, min(total, deadline - time.monotonic()))
        return httpx.Timeout(total, connect=min(total, self.settings.connect_timeout_s))

    def _hint(self, text: str) -> str:
        """Point at the constraint setting when the server complains about how the schema was sent."""
        if not any(key in text for key in ("response_format", "json_schema", "structured_outputs")):
            return ""
        others = [
            c
            for c in ("response_format", "structured_outputs", "json_object")
            if c != self.settings.constraint
        ]
        return (
            f" (the server may not accept constraint={self.settings.constraint!r}: "
            f"try {ENV_PREFIX}CONSTRAINT={' or '.join(others)})"
        )

    # --- the engine interface -------------------------------------------------------------------

    async def generate(self, request: GenerationRequest) -> Generation:
        started = time.perf_counter()
        payload = await self._post(to_request_body(request, self.settings), request.deadline)
        try:
            choice = payload["choices"][0]
            text = choice["message"]["content"] or ""
            usage = payload.get("usage") or {}
        except (KeyError, IndexError, TypeError):
            raise EngineError(
                f"the remote server's answer lacks choices[0].message: {str(payload)[:300]}"
            ) from None
        finish = choice.get("finish_reason")
        return Generation(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason="length" if finish == "length" else "stop",
            timings={"total_ms": (time.perf_counter() - started) * 1e3},
        )

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | Generation]:
        """Server-sent text pieces, then the finished Generation (usage when the server reports it)."""
        started = time.perf_counter()
        body = to_request_body(request, self.settings, stream=True)
        body["stream_options"] = {"include_usage": True}
        pieces: list[str] = []
        usage: dict = {}
        finish = None
        timeout = self._timeout(request.deadline)
        async with self._client.stream("POST", "chat/completions", json=body, timeout=timeout) as response:
            if response.status_code >= 400:
                await response.aread()
                raise EngineError(
                    f"the remote server refused the stream (HTTP {response.status_code}): "
                    f"{response.text[:500]}{self._hint(response.text)}"
                )
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or []:
                    finish = choice.get("finish_reason") or finish
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        pieces.append(piece)
                        yield piece
        yield Generation(
            text="".join(pieces),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or len(pieces)),
            finish_reason="length" if finish == "length" else "stop",
            timings={"total_ms": (time.perf_counter() - started) * 1e3},
        )

    async def check_constraints(self) -> None:
        """The canary: refuse a server that does not enforce the schema it is sent."""
        value = f"zq-{secrets.token_hex(3)}-canary"
        request = GenerationRequest(
            messages=[{"role": "user", "content": "Say hello in one word."}],
            json_schema=canary_schema(value),
            max_tokens=32,
        )
        generation = await self.generate(request)
        try:
            ok = json.loads(generation.text) == {"canary": value}
        except ValueError:
            ok = False
        if not ok:
            raise ConstraintIgnored(
                f"the server at {self.settings.base_url} ignores the JSON schema sent as "
                f'constraint={self.settings.constraint!r}: asked for {{"canary": "{value}"}}, got '
                f"{generation.text[:120]!r}. Refused: constrained decoding is what makes every decision "
                f"valid. Set {ENV_PREFIX}CONSTRAINT to response_format, structured_outputs or json_object."
            )
        log.info("%s enforces constraint=%s", self.settings.base_url, self.settings.constraint)

    async def warm_up(self) -> None:
        if self.settings.canary:
            await self.check_constraints()

    async def close(self) -> None:
        await self._client.aclose()
