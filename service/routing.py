"""The routing logic: one request in, one validated decision out, whatever the engine."""

from __future__ import annotations

import time
from dataclasses import dataclass

from pydantic import ValidationError

from contract import build_messages, grammar_json_schema, parse_decision
from contract.decision import CompleteDecision, RunningDecision
from service.engines import Engine, EngineError, Generation, GenerationRequest
from service.metrics import Metrics


@dataclass
class RouteResult:
    decision: RunningDecision | CompleteDecision
    generation: Generation
    latency_ms: float


class Router:
    """Builds the prompt, constrains the engine with the decision grammar, validates the output."""

    def __init__(self, engine: Engine, *, max_tokens: int, metrics: Metrics | None = None) -> None:
        self.engine = engine
        self.max_tokens = max_tokens
        self.metrics = metrics

    async def route(self, query: str, *, context: str | None = None, reasoning: bool = True) -> RouteResult:
        started = time.perf_counter()
        request = GenerationRequest(
            messages=build_messages(query, context),
            json_schema=grammar_json_schema(reasoning=reasoning),
            max_tokens=self.max_tokens,
        )
        try:
            generation = await self.engine.generate(request)
            decision = self._validate(generation, reasoning)
        except EngineError:
            if self.metrics:
                self.metrics.engine_errors.inc()
            raise
        result = RouteResult(decision, generation, (time.perf_counter() - started) * 1e3)
        if self.metrics:
            self._record(result)
        return result

    def _validate(self, generation: Generation, reasoning: bool) -> RunningDecision | CompleteDecision:
        if generation.finish_reason == "length":
            raise EngineError(
                f"the decision was cut off at max_tokens={self.max_tokens} before it was complete; "
                f"raise ROUTER_MAX_TOKENS (output so far: {generation.text[:200]!r})"
            )
        try:
            return parse_decision(generation.text, reasoning=reasoning)
        except ValidationError as error:
            raise EngineError(f"the model's output is not a valid decision: {error}") from None

    def _record(self, result: RouteResult) -> None:
        m, g, d = self.metrics, result.generation, result.decision
        tool = d.tool_use.tool_name if isinstance(d, RunningDecision) else "none"
        m.decisions.labels(status=d.status, tool=tool).inc()
        m.prompt_tokens.inc(g.prompt_tokens)
        m.completion_tokens.inc(g.completion_tokens)
        m.forced_tokens.inc(g.forced_tokens)
        for phase in ("prefill", "decode"):
            if f"{phase}_ms" in g.timings:
                m.engine_seconds.labels(phase=phase).observe(g.timings[f"{phase}_ms"] / 1e3)
        if "grammar_compile_ms" in g.timings:
            m.grammar_compile_seconds.observe(g.timings["grammar_compile_ms"] / 1e3)
        m.adapter_requests.labels(adapter=self.engine.adapter_name or "base").inc()
