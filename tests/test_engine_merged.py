"""The adapter merged into the base weights (service/engines/merged.py): the deltas really land in the weights,
the merged model decides what the base plus the adapter decides, it is built once and reused, the engine
falls back to applying the adapter when it cannot be built, and the route-speed benchmark can time it."""

from __future__ import annotations

import asyncio
import logging
import shutil

import pytest

from bench.route_speed import run, tool_call_queries
from contract import build_messages, grammar_json_schema, parse_decision
from evaluation.metrics import label
from service.engines import GenerationRequest
from service.engines.llamacpp import LlamaCppEngine
from service.engines.merged import merge, merged_model
from service.settings import SHIPPED_ADAPTER, default_model_path

QUERIES = ["where is the User class defined?", "what is 1234 * 5678?", "open src/app.py and show me main",
           "explain python decorators", "rm -rf the build folder, quick"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("merged")


@pytest.fixture(scope="module")
def merged(cache):
    return merged_model(default_model_path(), SHIPPED_ADAPTER, cache)


def _decisions(model, adapter=None, **engine_options):
    async def decide():
        engine = LlamaCppEngine(model, adapter_path=adapter, n_threads=1, parallel=1, **engine_options)
        try:
            decisions = [parse_decision((await engine.generate(GenerationRequest(
                build_messages(q), grammar_json_schema(), 256))).text) for q in QUERIES]
            return decisions, engine
        finally:
            await engine.close()

    return asyncio.run(decide())


def test_f16_keeps_the_adapters_deltas_and_q4_1_loses_them(tmp_path):
    """The rounding error of the merged weights, relative to the deltas they carry (median of 140 weights)."""
    f16 = merge(default_model_path(), SHIPPED_ADAPTER, tmp_path / "f16.gguf")
    q4_1 = merge(default_model_path(), SHIPPED_ADAPTER, tmp_path / "q4_1.gguf", None)  # the base's own type
    assert f16["merged_tensors"] == q4_1["merged_tensors"] == 140
    assert f16["delta_error_median"] < 0.05 < 0.5 < q4_1["delta_error_median"]


def test_the_merged_model_decides_as_the_base_with_the_adapter_does(merged):
    (with_adapter, _), (alone, _) = _decisions(default_model_path(), SHIPPED_ADAPTER), _decisions(merged)
    (base, _) = _decisions(default_model_path())
    assert [label(d) for d in alone] == [label(d) for d in with_adapter]
    # The base model without the adapter decides otherwise: the merge is what carries the adapter over.
    assert [label(d) for d in base] != [label(d) for d in with_adapter]


def test_the_engine_builds_the_merge_once_and_names_the_adapter_it_carries(cache, merged):
    built = merged.stat().st_mtime_ns
    (decisions, engine) = _decisions(default_model_path(), SHIPPED_ADAPTER, merged_dir=cache)
    assert engine.merged and engine.adapter_name == "router-smollm2" and engine.model_name == default_model_path().stem
    assert merged.stat().st_mtime_ns == built and [p.name for p in cache.iterdir()] == [merged.name]
    # Named by the content of both files: the same adapter under another path is the same merge.
    copy = cache.parent / "elsewhere" / "adapter.gguf"
    copy.parent.mkdir(exist_ok=True)
    shutil.copy(SHIPPED_ADAPTER, copy)
    assert merged_model(default_model_path(), copy, cache) == merged


def test_where_the_merge_cannot_be_written_the_adapter_is_applied_on_every_pass(tmp_path, caplog):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    with caplog.at_level(logging.WARNING, logger="service.engines.llamacpp"):
        (decisions, engine) = _decisions(default_model_path(), SHIPPED_ADAPTER, merged_dir=not_a_folder / "cache")
    assert not engine.merged and engine.adapter_name == "router-smollm2"
    assert "applying it on every pass instead" in caplog.text and len(decisions) == len(QUERIES)


def test_the_route_speed_benchmark_times_a_merged_model(merged):
    series = run(tool_call_queries(1), repeats=1, threads=1, warmup=0, others=[], models=[merged])
    name = next(n for n in series if "(no adapter)" in n)
    assert series[name].samples and not series[name].errors


def test_the_served_default_applies_the_adapter_on_every_pass():
    """The merge is opt-in: on R-U it cost 2 points of arguments (docs/speed.md)."""
    from service.settings import Settings

    assert not Settings().merge_adapter
