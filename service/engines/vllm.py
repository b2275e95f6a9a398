"""The GPU engine: vLLM's in-process `AsyncLLM`, the decision schema as `StructuredOutputsParams`.

vLLM >= 0.12 silently ignores the old `guided_*` sampling parameters; the constraint must travel as
`SamplingParams(structured_outputs=StructuredOutputsParams(json=...))`, and the grammar backend and its
whitespace policy are engine-wide (`StructuredOutputsConfig`), not per request. Everything that turns our
settings and a `GenerationRequest` into vLLM objects lives in three pure functions (`engine_kwargs`,
`to_sampling_params`, `lora_requests`), tested against the real vLLM package without a GPU.

vLLM is imported inside functions only: importing this module costs nothing.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contract import build_messages, grammar_json_schema, render_prompt_parts
from service.engines.base import DeadlineExceeded, Engine, EngineError, Generation, GenerationRequest
from service.engines.config import load_engine_settings

if TYPE_CHECKING:
    from vllm import SamplingParams
    from vllm.lora.request import LoRARequest

log = logging.getLogger(__name__)

ENV_PREFIX = "ROUTER_VLLM_"
# Backends that can emit compact JSON (vLLM refuses `disable_any_whitespace` with the others).
COMPACT_JSON_BACKENDS = ("xgrammar", "guidance")


class VLLMSettings(BaseSettings):
    """The vllm engine's settings, from ROUTER_VLLM_* variables (adapters as JSON: '{"name": "/path"}')."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    model: str = Field(
        min_length=1, description="Base model: a local HF directory (or a hub id where reachable)."
    )
    tokenizer: str | None = Field(default=None, description="Tokenizer directory, if not the model's.")
    served_model_name: str | None = Field(default=None, description="Name in /v1/models; default: the model.")
    adapters: dict[str, Path] = Field(
        default_factory=dict, description="LoRA adapters loaded at start: name -> PEFT directory."
    )
    default_adapter: str | None = Field(
        default=None, description="Adapter applied when a request names none; must be one of `adapters`."
    )
    backend: Literal["xgrammar", "guidance", "outlines"] = Field(
        default="guidance",
        description="Structured-output backend; xgrammar rejects the decision schema (see check_backend).",
    )
    compact_json: bool = Field(
        default=True,
        description="No free whitespace in JSON (xgrammar and guidance only; ignored otherwise).",
    )
    prefix_caching: bool = Field(default=True, description="Reuse the KV cache of the shared prompt prefix.")
    quantization: Literal["none", "fp8"] = Field(
        default="none", description="fp8: quantise bf16 weights to FP8 at load (Hopper/Ada GPUs)."
    )
    ngram_speculative_tokens: int = Field(
        default=0,
        ge=0,
        le=16,
        description="n-gram (prompt lookup) speculative decoding: tokens per step; 0 off.",
    )
    ngram_lookup_max: int = Field(default=4, ge=1, le=16, description="Longest n-gram matched in the prompt.")
    ngram_lookup_min: int = Field(
        default=2, ge=1, le=16, description="Shortest n-gram matched in the prompt."
    )
    max_model_len: int = Field(default=4096, ge=256, description="Context window (prompt + output tokens).")
    gpu_memory_utilization: float = Field(default=0.85, gt=0.0, le=1.0)
    max_num_seqs: int = Field(default=64, ge=1, description="Most requests batched together.")
    max_lora_rank: Literal[8, 16, 32, 64, 128, 256] = Field(default=16, description="Largest adapter rank.")
    max_loras: int | None = Field(default=None, ge=1, description="Adapters in one batch; default: all.")
    dtype: Literal["auto", "bfloat16", "float16"] = "auto"
    tensor_parallel_size: int = Field(default=1, ge=1)
    enforce_eager: bool = Field(default=False, description="Skip CUDA graphs (faster start, slower decode).")
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> VLLMSettings:
        if self.default_adapter is not None and self.default_adapter not in self.adapters:
            raise ValueError(
                f"default_adapter {self.default_adapter!r} is not in adapters "
                f"{sorted(self.adapters)}; add it to {ENV_PREFIX}ADAPTERS"
            )
        if self.ngram_lookup_min > self.ngram_lookup_max:
            raise ValueError("ngram_lookup_min must not exceed ngram_lookup_max")
        return self

    @property
    def compact(self) -> bool:
        """Whether compact JSON is actually requested from the backend."""
        return self.compact_json and self.backend in COMPACT_JSON_BACKENDS


def load_vllm_settings(**overrides: Any) -> VLLMSettings:
    """Read ROUTER_VLLM_* settings, naming the variable of any bad value."""
    return load_engine_settings(VLLMSettings, ENV_PREFIX, **overrides)


# --- the one place our objects become vLLM's ----------------------------------------------------


def engine_kwargs(settings: VLLMSettings) -> dict[str, Any]:
    """Keyword arguments for `vllm.AsyncEngineArgs` (plain data: testable without vLLM)."""
    kwargs: dict[str, Any] = {
        "model": settings.model,
        "tokenizer": settings.tokenizer,
        "served_model_name": settings.served_model_name,
        "dtype": settings.dtype,
        "seed": settings.seed,
        "max_model_len": settings.max_model_len,
        "gpu_memory_utilization": settings.gpu_memory_utilization,
        "max_num_seqs": settings.max_num_seqs,
        "tensor_parallel_size": settings.tensor_parallel_size,
        "enforce_eager": settings.enforce_eager,
        "enable_prefix_caching": settings.prefix_caching,
        "quantization": "fp8" if settings.quantization == "fp8" else None,
        "structured_outputs_config": {
            "backend": settings.backend,
            "disable_any_whitespace": settings.compact,
        },
        "enable_lora": bool(settings.adapters),
        "disable_log_stats": False,
    }
    if settings.adapters:
        kwargs["max_loras"] = settings.max_loras or len(settings.adapters)
        kwargs["max_lora_rank"] = settings.max_lora_rank
    if settings.ngram_speculative_tokens:
        kwargs["speculative_config"] = {
            "method": "ngram",
            "num_speculative_tokens": settings.ngram_speculative_tokens,
            "prompt_lookup_max": settings.ngram_lookup_max,
            "prompt_lookup_min": settings.ngram_lookup_min,
        }
    return {key: value for key, value in kwargs.items() if value is not None}


def build_engine_args(settings: VLLMSettings):
    """The real `AsyncEngineArgs`; vLLM validates the nested configs when it builds the engine."""
    from vllm import AsyncEngineArgs
    from vllm.config import StructuredOutputsConfig

    kwargs = engine_kwargs(settings)
    kwargs["structured_outputs_config"] = StructuredOutputsConfig(**kwargs["structured_outputs_config"])
    return AsyncEngineArgs(**kwargs)


def to_sampling_params(request: GenerationRequest, settings: VLLMSettings) -> SamplingParams:
    """Our request as vLLM `SamplingParams`: the schema as `StructuredOutputsParams(json=...)`."""
    from vllm import SamplingParams
    from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams

    structured = None
    if request.json_schema is not None:
        # vLLM 0.33's backends read the whitespace flag from the engine config; the request copy keeps
        # the intent visible to anything that inspects the params (and to future versions).
        structured = StructuredOutputsParams(
            json=request.json_schema, disable_any_whitespace=settings.compact
        )
    return SamplingParams(
        max_tokens=request.max_tokens,
        temperature=request.temperature,
        seed=settings.seed if request.temperature > 0 else None,
        ignore_eos=request.ignore_eos,
        structured_outputs=structured,
        output_kind=RequestOutputKind.DELTA,
        skip_special_tokens=True,
    )


def lora_requests(settings: VLLMSettings) -> dict[str, LoRARequest]:
    """One `LoRARequest` per configured adapter, with stable ids 1..n in name order."""
    from vllm.lora.request import LoRARequest

    return {
        name: LoRARequest(lora_name=name, lora_int_id=index, lora_path=str(path))
        for index, (name, path) in enumerate(sorted(settings.adapters.items()), start=1)
    }


def check_backend(settings: VLLMSettings) -> None:
    """Refuse a backend that cannot compile the decision schema, at start rather than per request.

    vLLM 0.33's xgrammar backend rejects string fields that carry both a `pattern` and length bounds
    (xgrammar issue 966); the decision's `path` fields do, so xgrammar cannot serve this contract.
    """
    from vllm import SamplingParams
    from vllm.exceptions import VLLMError
    from vllm.sampling_params import StructuredOutputsParams

    for reasoning in (True, False):
        schema = grammar_json_schema(reasoning=reasoning)
        params = SamplingParams(structured_outputs=StructuredOutputsParams(json=schema))
        try:
            if settings.backend == "xgrammar":
                from vllm.v1.structured_output.backend_xgrammar import validate_xgrammar_grammar

                validate_xgrammar_grammar(params)
            elif settings.backend == "guidance":
                from vllm.v1.structured_output.backend_guidance import validate_guidance_grammar

                validate_guidance_grammar(params, tokenizer=None)
            else:
                from vllm.v1.structured_output.backend_outlines import (
                    validate_structured_output_request_outlines,
                )

                validate_structured_output_request_outlines(params)
        except (ValueError, VLLMError) as error:
            raise ValueError(
                f"{ENV_PREFIX}BACKEND={settings.backend} cannot compile the decision schema: {error}; "
                "use guidance (the default) or outlines"
            ) from None


def adapter_for(request: GenerationRequest, settings: VLLMSettings) -> str | None:
    """Which adapter serves this request: its own, else the default; an unknown name is a user error."""
    name = request.adapter if request.adapter is not None else settings.default_adapter
    if name is not None and name not in settings.adapters:
        loaded = ", ".join(sorted(settings.adapters)) or "none"
        raise ValueError(f"adapter {name!r} is not loaded; loaded adapters: {loaded}")
    return name


# --- the engine ----------------------------------------------------------------------------------


class VLLMEngine(Engine):
    name = "vllm"

    def __init__(self, settings: VLLMSettings) -> None:
        from vllm.v1.engine.async_llm import AsyncLLM

        started = time.perf_counter()
        for adapter, path in settings.adapters.items():
            if not (Path(path) / "adapter_config.json").is_file():
                raise ValueError(
                    f"adapter {adapter!r}: {path} is not a PEFT directory (no adapter_config.json)"
                )
        check_backend(settings)
        self.settings = settings
        self._llm = AsyncLLM.from_engine_args(build_engine_args(settings))
        self._loras = lora_requests(settings)
        self._tokenizer = self._llm.get_tokenizer()
        self._chat_template = getattr(self._tokenizer, "chat_template", None)
        if not self._chat_template:
            raise EngineError(f"{settings.model} has no chat template; the router needs one to build prompts")
        self.model_name = settings.served_model_name or Path(settings.model).name
        self.adapter_name = settings.default_adapter
        self.load_seconds = time.perf_counter() - started
        log.info(
            "vLLM loaded %s in %.1fs (adapters: %s)", settings.model, self.load_seconds, sorted(self._loras)
        )

    def adapters(self) -> dict[str, str]:
        return {name: str(path) for name, path in self.settings.adapters.items()}

    def prompt_token_ids(self, messages: list[dict[str, str]]) -> list[int]:
        """The prompt through the contract's one prompt builder, tokenized without extra specials.

        Special-token text inside a message (e.g. "<|eot_id|>") is split as plain text: a request
        cannot open a chat turn of its own."""
        tok = self._tokenizer
        parts = render_prompt_parts(
            messages,
            self._chat_template,
            bos_token=getattr(tok, "bos_token", None) or "",
            eos_token=getattr(tok, "eos_token", None) or "",
        )
        ids: list[int] = []
        for text, is_template in parts:
            ids += tok.encode(text, add_special_tokens=False, split_special_tokens=not is_template)
        return ids

    async def _run(self, request: GenerationRequest):
        """Yield (delta text, final output or None) pairs; the last pair carries the finished output."""
        from vllm import TokensPrompt
        from vllm.exceptions import VLLMClientError, VLLMServerError

        adapter = adapter_for(request, self.settings)
        params = to_sampling_params(request, self.settings)
        prompt = TokensPrompt(prompt_token_ids=self.prompt_token_ids(request.messages))
        request_id = uuid.uuid4().hex
        stream = self._llm.generate(
            prompt, params, request_id, lora_request=self._loras[adapter] if adapter else None
        )
        try:
            async for output in stream:
                if request.deadline is not None and time.monotonic() > request.deadline:
                    raise DeadlineExceeded("the request ran past its deadline inside the vllm engine")
                yield output
        except VLLMClientError as error:  # the request itself is bad (e.g. a schema the backend rejects)
            raise ValueError(f"vLLM rejected the request: {error}") from error
        except VLLMServerError as error:
            raise EngineError(f"vLLM failed: {type(error).__name__}: {error}") from error
        finally:
            await stream.aclose()  # vLLM aborts a request whose stream closes early

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | Generation]:
        """Text pieces as vLLM decodes them, then the finished Generation."""
        started = time.perf_counter()
        first_token_ms = None
        pieces: list[str] = []
        completion_tokens = prompt_tokens = 0
        finish_reason = None
        async for output in self._run(request):
            completion = output.outputs[0]
            if completion.text:
                if first_token_ms is None:
                    first_token_ms = (time.perf_counter() - started) * 1e3
                pieces.append(completion.text)
                yield completion.text
            completion_tokens += len(completion.token_ids)
            prompt_tokens = len(output.prompt_token_ids or ()) or prompt_tokens
            finish_reason = completion.finish_reason
        if finish_reason not in ("stop", "length"):
            raise EngineError(f"vLLM ended the request with finish_reason={finish_reason!r}")
        total_ms = (time.perf_counter() - started) * 1e3
        timings = {"total_ms": total_ms}
        if first_token_ms is not None:
            timings.update(
                ttft_ms=first_token_ms, prefill_ms=first_token_ms, decode_ms=total_ms - first_token_ms
            )
        yield Generation(
            text="".join(pieces),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason=finish_reason,
            timings=timings,
        )

    async def generate(self, request: GenerationRequest) -> Generation:
        async for item in self.stream(request):
            if isinstance(item, Generation):
                return item
        raise EngineError("vLLM's stream ended without a result")

    async def warm_up(self) -> None:
        """Compile both decision grammars and fill the prefix cache with the system prompt."""
        for reasoning in (True, False):
            await self.generate(
                GenerationRequest(
                    messages=build_messages("where is the User class defined?"),
                    json_schema=grammar_json_schema(reasoning=reasoning),
                    max_tokens=96,
                )
            )

    async def close(self) -> None:
        self._llm.shutdown()
