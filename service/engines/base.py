"""The engine interface: messages and a JSON schema in, constrained text out.

An engine knows how to run a model under a grammar; it knows nothing about routing. The routing
logic (prompt, schema choice, validation against the contract) lives in `service.routing`, so every
engine returns the same validated decision for the same request.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal


class EngineError(RuntimeError):
    """The engine could not produce a valid answer (model failure, cut-off output, backend down)."""


class DeadlineExceeded(EngineError):
    """The request ran past its deadline and was abandoned inside the engine."""


@dataclass(frozen=True)
class GenerationRequest:
    messages: list[dict[str, str]]
    """Chat messages; the engine renders them with the model's chat template."""
    json_schema: dict[str, Any] | None
    """The output must match this schema; None means unconstrained text."""
    max_tokens: int
    temperature: float = 0.0
    """0 means greedy decoding."""
    adapter: str | None = None
    """Name of a loaded LoRA adapter to apply, or None for the engine's default."""
    ignore_eos: bool = False
    """Generate exactly max_tokens tokens (benchmarks of plain, unconstrained generation)."""
    confidence_keys: tuple[str, ...] = ()
    """JSON keys whose string value is a decision (e.g. "status", "tool_name"): the engine reports the
    probability it gave the value it chose for each, in `Generation.confidence`."""
    branch_prior: dict[str, dict[str, float]] | Future = field(default_factory=dict)
    """For a branching key, a log-weight per value (e.g. {"status": {"running": -0.1, "complete": -2.3}}),
    added to the model's logits of the tokens that start each value before it chooses: a product of the
    model and an outside prior at that one step (`service.decision_prior`). A Future of that dict is
    waited for only at the first branching point, so the prior can be computed while the prompt is
    prefilled. Only the llamacpp engine applies it; the others ignore it."""
    deadline: float | None = None
    """`time.monotonic()` past which the engine abandons the request with `DeadlineExceeded`."""


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: Literal["stop", "length"]
    forced_tokens: int = 0
    """Tokens the grammar forced (no choice for the model)."""
    confidence: dict[str, float] = field(default_factory=dict)
    """For each of the request's `confidence_keys` the output contains: the probability of the first
    token of the chosen value among the tokens the grammar allowed (1.0 when the grammar forced it)."""
    cached_tokens: int = 0
    """Prompt tokens whose KV state was reused from the previous request (not recomputed)."""
    truncated: bool = False
    """The token budget ran low and the output was steered to close its strings and objects early:
    valid, but possibly cut short (a rambling answer, a looping model)."""
    timings: dict[str, float] = field(default_factory=dict)
    """Engine-side milliseconds by phase, e.g. {"prefill_ms": ..., "decode_ms": ...}."""


class Engine(ABC):
    """A model behind a grammar. Implementations: llamacpp (embedded default), vllm, remote."""

    name: str
    """Short engine kind, e.g. "llamacpp"."""
    model_name: str
    """What /v1/models and response metadata call the base model."""
    adapter_name: str | None = None
    """The default LoRA adapter applied to every request, if any."""

    @abstractmethod
    async def generate(self, request: GenerationRequest) -> Generation:
        """Run one request to completion."""

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | Generation]:
        """Yield the output text piece by piece, then the finished Generation (usage, finish reason).

        The default yields it all at once. Errors in the request (bad schema, prompt too long) should be
        raised before the first piece, so a server can still answer them with a status code.
        """
        generation = await self.generate(request)
        yield generation.text
        yield generation

    def adapters(self) -> dict[str, str]:
        """Loaded adapters: name -> path. Empty when the engine serves the base model only."""
        return {self.adapter_name: self.adapter_name} if self.adapter_name else {}

    async def warm_up(self) -> None:
        """Run one request so the first real request pays no start-up cost."""

    async def close(self) -> None:
        """Release the model."""
