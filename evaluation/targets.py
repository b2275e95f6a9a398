"""What gets evaluated: a running server (`POST /route`), an in-process router, or the prompted baseline."""

from __future__ import annotations

import time
from typing import Protocol

import httpx
from pydantic import ValidationError

from contract import grammar_json_schema, parse_decision, validate_decision
from evaluation.baseline import baseline_messages
from evaluation.metrics import Outcome


class Target(Protocol):
    name: str

    async def route(self, query: str) -> Outcome: ...


class HttpTarget:
    """A running `router serve`: the decision is rebuilt from the response's top-level fields."""

    def __init__(self, url: str, *, timeout: float = 120.0, api_key: str | None = None, name: str = "server") -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url, self.name = url.rstrip("/"), name
        self._client = httpx.AsyncClient(base_url=self.url, timeout=timeout, headers=headers)

    async def route(self, query: str) -> Outcome:
        started = time.perf_counter()
        try:
            response = await self._client.post("/route", json={"query": query})
        except httpx.HTTPError as error:
            return Outcome(None, (time.perf_counter() - started) * 1e3, f"request failed: {error!r}")
        latency = (time.perf_counter() - started) * 1e3
        if response.status_code != 200:
            return Outcome(None, latency, f"HTTP {response.status_code}: {response.text[:300]}", response.text)
        try:
            body = response.json()
            fields = {k: body[k] for k in ("status", "thought", "tool_use", "final_answer") if body.get(k) is not None}
            meta = body.get("meta") or {}
            # The confidence is the model's, for its own choices: a decision the server overrode has none.
            overridden = meta.get("low_confidence") or meta.get("destructive")
            confidence = {} if overridden else meta.get("confidence") or {}
            return Outcome(validate_decision(fields), latency, raw=response.text, confidence=confidence)
        except (ValueError, ValidationError) as error:
            return Outcome(None, latency, f"invalid decision: {str(error)[:300]}", response.text)

    async def close(self) -> None:
        await self._client.aclose()


class RouterTarget:
    """Any engine in-process, through the service's own Router (the serving prompt and grammar)."""

    def __init__(self, router, name: str) -> None:
        self.router, self.name = router, name

    async def route(self, query: str) -> Outcome:
        started = time.perf_counter()
        try:
            result = await self.router.route(query)
        except Exception as error:  # noqa: BLE001 - an engine failure is a scored outcome, not a crash
            return Outcome(None, (time.perf_counter() - started) * 1e3, f"{type(error).__name__}: {error}")
        overridden = result.low_confidence or result.destructive
        return Outcome(result.decision, (time.perf_counter() - started) * 1e3,
                       confidence={} if overridden else dict(result.generation.confidence))


class PromptedBaseline:
    """The approach the adapter replaces: the base model, a long tool prompt with few-shots, same grammar."""

    name = "prompted baseline"

    def __init__(self, engine, *, max_tokens: int = 512) -> None:
        self.engine, self.max_tokens = engine, max_tokens

    async def route(self, query: str) -> Outcome:
        from service.engines import GenerationRequest

        started = time.perf_counter()
        request = GenerationRequest(messages=baseline_messages(query), json_schema=grammar_json_schema(),
                                    max_tokens=self.max_tokens)
        try:
            generation = await self.engine.generate(request)
            decision = parse_decision(generation.text)
        except Exception as error:  # noqa: BLE001 - scored as invalid
            return Outcome(None, (time.perf_counter() - started) * 1e3, f"{type(error).__name__}: {str(error)[:300]}")
        return Outcome(decision, (time.perf_counter() - started) * 1e3, raw=generation.text)
