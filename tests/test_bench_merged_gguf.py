"""The merged-adapter GGUF (bench/merged_gguf.py): the adapter's deltas really land in the weights, so the
merged model decides what the base plus the adapter decides, and the route-speed benchmark can time it."""

from __future__ import annotations

import asyncio

import pytest

from bench.merged_gguf import merge
from bench.route_speed import run, tool_call_queries
from contract import build_messages, grammar_json_schema, parse_decision
from evaluation.metrics import label
from service.engines import GenerationRequest
from service.engines.llamacpp import LlamaCppEngine
from service.settings import SHIPPED_ADAPTER, default_model_path

QUERIES = ["where is the User class defined?", "what is 1234 * 5678?", "open src/app.py and show me main",
           "explain python decorators", "rm -rf the build folder, quick"]


@pytest.fixture(scope="module")
def merged(tmp_path_factory):
    out = tmp_path_factory.mktemp("merged") / "merged-q8_0.gguf"
    summary = merge(default_model_path(), SHIPPED_ADAPTER, out, "Q8_0")
    assert summary["merged_tensors"] == 140 and summary["delta_error_median"] < 0.3
    return out


def _decisions(model, adapter=None):
    async def decide():
        engine = LlamaCppEngine(model, adapter_path=adapter, n_threads=1, parallel=1)
        try:
            return [parse_decision((await engine.generate(GenerationRequest(
                build_messages(q), grammar_json_schema(), 256))).text) for q in QUERIES]
        finally:
            await engine.close()

    return asyncio.run(decide())


def test_the_merged_model_decides_as_the_base_with_the_adapter_does(merged):
    with_adapter, alone, base = _decisions(default_model_path(), SHIPPED_ADAPTER), _decisions(merged), \
        _decisions(default_model_path())  # fmt: skip
    assert [label(d) for d in alone] == [label(d) for d in with_adapter]
    # The base model without the adapter decides otherwise: the merge is what carries the adapter over.
    assert [label(d) for d in base] != [label(d) for d in with_adapter]


def test_the_route_speed_benchmark_times_a_merged_model(merged):
    series = run(tool_call_queries(1), repeats=1, threads=1, warmup=0, others=[], models=[merged])
    name = next(n for n in series if "(no adapter)" in n)
    assert series[name].samples and not series[name].errors
