"""Our vllm engine's request objects, checked against the real vLLM 0.33 package (no GPU needed).

Runs inside .venv-vllm (see .ci/vllm-env); `tests/test_deploy_vllm_objects.py` runs this file there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import vllm
from vllm import AsyncEngineArgs, SamplingParams
from vllm.config import LoRAConfig, SpeculativeConfig, StructuredOutputsConfig
from vllm.lora.request import LoRARequest
from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams

from contract import build_messages, grammar_json_schema
from service.engines.base import GenerationRequest
from service.engines.vllm import (
    VLLMSettings,
    adapter_for,
    build_engine_args,
    check_backend,
    engine_kwargs,
    load_vllm_settings,
    lora_requests,
    to_sampling_params,
)

COMPACT = (
    '{"status":"running","thought":"The user names a symbol, so an exact search finds its definition fast.",'
    '"tool_use":{"tool_name":"codebase_search","arguments":{"query":"class User","mode":"exact"}}}'
)


def _request(**overrides) -> GenerationRequest:
    fields = dict(
        messages=build_messages("where is User defined?"), json_schema=grammar_json_schema(), max_tokens=96
    )
    fields.update(overrides)
    return GenerationRequest(**fields)


def _settings(tmp_path: Path, **overrides) -> VLLMSettings:
    return VLLMSettings(model=str(tmp_path / "model"), **overrides)


def test_pinned_version():
    assert vllm.__version__.startswith("0.33.0")


def test_schema_travels_as_structured_outputs_params(tmp_path):
    params = to_sampling_params(_request(), _settings(tmp_path))
    assert isinstance(params, SamplingParams)
    assert isinstance(params.structured_outputs, StructuredOutputsParams)
    assert params.structured_outputs.json == grammar_json_schema()
    assert params.structured_outputs.disable_any_whitespace is True
    assert params.max_tokens == 96 and params.temperature == 0.0 and params.seed is None
    assert params.output_kind == RequestOutputKind.DELTA
    # The old `guided_*` parameters are gone: nothing on the params object may carry the schema elsewhere.
    assert not [name for name in dir(params) if name.startswith("guided")]


def test_unconstrained_and_sampled_requests(tmp_path):
    params = to_sampling_params(
        _request(json_schema=None, temperature=0.7, ignore_eos=True), _settings(tmp_path)
    )
    assert params.structured_outputs is None
    assert params.temperature == 0.7 and params.seed == 0 and params.ignore_eos is True


@pytest.mark.parametrize("backend", ["guidance", "outlines"])
def test_backends_accept_the_decision_schema(tmp_path, backend):
    check_backend(_settings(tmp_path, backend=backend))


def test_xgrammar_refused_at_start_with_the_reason(tmp_path):
    # vLLM 0.33 validates xgrammar requests and rejects pattern + length bounds (our `path` fields).
    with pytest.raises(ValueError, match="ROUTER_VLLM_BACKEND=xgrammar cannot compile the decision schema"):
        check_backend(_settings(tmp_path, backend="xgrammar"))


@pytest.mark.parametrize(
    ("backend", "compact"), [("guidance", True), ("xgrammar", True), ("outlines", False)]
)
def test_whitespace_off_where_the_backend_allows(tmp_path, backend, compact):
    kwargs = engine_kwargs(_settings(tmp_path, backend=backend))
    config = StructuredOutputsConfig(**kwargs["structured_outputs_config"])
    assert config.backend == backend and config.disable_any_whitespace is compact
    if not compact:  # the real config refuses the flag for this backend: the gate is needed
        with pytest.raises(ValueError, match="disable_any_whitespace"):
            StructuredOutputsConfig(backend=backend, disable_any_whitespace=True)


def test_compact_guidance_grammar_rejects_free_whitespace(tmp_path):
    """The grammar vLLM builds from our settings accepts compact JSON and refuses spaced JSON."""
    from llguidance import LLMatcher, LLTokenizer
    from vllm.v1.structured_output.backend_guidance import serialize_guidance_grammar
    from vllm.v1.structured_output.backend_types import StructuredOutputOptions

    params = to_sampling_params(_request(), _settings(tmp_path))
    grammar = serialize_guidance_grammar(
        StructuredOutputOptions.JSON, params.structured_outputs.json, disable_any_whitespace=True
    )
    tokenizer = LLTokenizer("byte")

    def accepts(text: str) -> bool:
        matcher = LLMatcher(tokenizer, grammar, log_level=0)
        return matcher.consume_tokens(tokenizer.tokenize_str(text)) and matcher.is_accepting()

    assert accepts(COMPACT)
    assert not accepts(json.dumps(json.loads(COMPACT)))  # ", " and ": " separators
    assert not accepts(COMPACT.replace('"exact"}', '"exact","extra":1}'))  # extra keys are forbidden


def test_engine_args_are_real_async_engine_args(tmp_path):
    adapters = {"router": tmp_path / "router", "router-v2": tmp_path / "v2"}
    settings = _settings(
        tmp_path, adapters=adapters, default_adapter="router", quantization="fp8", ngram_speculative_tokens=4
    )
    args = build_engine_args(settings)
    assert isinstance(args, AsyncEngineArgs)
    assert args.enable_prefix_caching is True and args.quantization == "fp8"
    assert args.enable_lora is True and args.max_loras == 2 and args.max_lora_rank == 16
    assert isinstance(args.structured_outputs_config, StructuredOutputsConfig)
    assert args.structured_outputs_config.backend == "guidance"
    spec = SpeculativeConfig(**args.speculative_config)
    assert spec.method == "ngram" and spec.num_speculative_tokens == 4
    assert spec.prompt_lookup_max == 4 and spec.prompt_lookup_min == 2
    LoRAConfig(max_loras=args.max_loras, max_lora_rank=args.max_lora_rank)


def test_plain_settings_leave_optional_features_off(tmp_path):
    args = build_engine_args(_settings(tmp_path, prefix_caching=False))
    assert args.enable_lora is False and args.speculative_config is None
    assert args.quantization is None and args.enable_prefix_caching is False


def test_every_engine_kwarg_is_an_engine_args_field(tmp_path):
    settings = _settings(tmp_path, adapters={"a": tmp_path}, quantization="fp8", ngram_speculative_tokens=2)
    fields = set(AsyncEngineArgs.__dataclass_fields__)
    assert set(engine_kwargs(settings)) <= fields


def test_one_lora_request_per_adapter_with_unique_ids(tmp_path):
    settings = _settings(tmp_path, adapters={"b": tmp_path / "b", "a": tmp_path / "a", "c": tmp_path / "c"})
    loras = lora_requests(settings)
    assert all(isinstance(lora, LoRARequest) for lora in loras.values())
    assert [(lora.lora_name, lora.lora_int_id) for lora in loras.values()] == [("a", 1), ("b", 2), ("c", 3)]
    assert loras["b"].lora_path == str(tmp_path / "b")


def test_adapter_selection_per_request(tmp_path):
    settings = _settings(tmp_path, adapters={"a": tmp_path, "b": tmp_path}, default_adapter="a")
    assert adapter_for(_request(), settings) == "a"
    assert adapter_for(_request(adapter="b"), settings) == "b"
    with pytest.raises(ValueError, match="adapter 'zzz' is not loaded; loaded adapters: a, b"):
        adapter_for(_request(adapter="zzz"), settings)


def test_bad_settings_name_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("ROUTER_VLLM_MODEL", str(tmp_path))
    monkeypatch.setenv("ROUTER_VLLM_BACKEND", "lm-format-enforcer")
    with pytest.raises(ValueError, match="ROUTER_VLLM_BACKEND"):
        load_vllm_settings()
    monkeypatch.setenv("ROUTER_VLLM_BACKEND", "guidance")
    monkeypatch.setenv("ROUTER_VLLM_ADAPTERS", json.dumps({"a": str(tmp_path)}))
    monkeypatch.setenv("ROUTER_VLLM_DEFAULT_ADAPTER", "b")
    with pytest.raises(ValueError, match="default_adapter 'b' is not in adapters"):
        load_vllm_settings()
