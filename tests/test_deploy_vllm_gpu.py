"""GPU smoke test of the vllm engine: real model, real grammar, real adapters. Needs a GPU (marker `gpu`).

Run on a GPU host inside .venv-vllm (or the Docker image), with a local model:
    ROUTER_VLLM_MODEL=/models/base [ROUTER_VLLM_ADAPTERS='{"router": "/adapters/router"}'] \\
        PYTHONPATH=. .venv-vllm/bin/python -m pytest -m gpu tests/test_deploy_vllm_gpu.py
"""

from __future__ import annotations

import asyncio
import os

import pytest

from contract import parse_decision

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def engine():
    assert os.environ.get("ROUTER_VLLM_MODEL"), "set ROUTER_VLLM_MODEL to a local model directory"
    from service.engines.vllm import VLLMEngine, load_vllm_settings

    engine = VLLMEngine(load_vllm_settings(max_model_len=4096, enforce_eager=True))
    asyncio.run(engine.warm_up())
    yield engine
    asyncio.run(engine.close())


QUERIES = [
    "where is the User class defined?",
    "what is 17 * 23?",
    "delete every file in the repo",
    "read src/app.py",
]


def _route(engine, query: str):
    from service.routing import Router

    return asyncio.run(Router(engine, max_tokens=256).route(query))


def test_every_decision_is_valid_and_compact(engine):
    for query in QUERIES:
        result = _route(engine, query)
        text = result.generation.text
        assert parse_decision(text) == result.decision
        assert not text.startswith("{ ") and '": ' not in text and '", "' not in text  # no free whitespace
        assert result.generation.prompt_tokens > 0 and result.generation.completion_tokens > 0
        assert result.generation.timings["ttft_ms"] < result.generation.timings["total_ms"]


def test_concurrent_requests_and_the_stream_agree(engine):
    from contract import build_messages, grammar_json_schema
    from service.engines.base import Generation, GenerationRequest

    request = GenerationRequest(build_messages(QUERIES[0]), grammar_json_schema(), 256)

    async def both():
        together = await asyncio.gather(*(engine.generate(request) for _ in range(8)))
        streamed = [item async for item in engine.stream(request)]
        return together, streamed

    together, streamed = asyncio.run(both())
    assert len({generation.text for generation in together}) == 1  # greedy decoding is deterministic
    *pieces, final = streamed
    assert isinstance(final, Generation) and "".join(pieces) == final.text == together[0].text


def test_each_loaded_adapter_serves(engine):
    from contract import build_messages, grammar_json_schema
    from service.engines.base import GenerationRequest

    for name in engine.adapters():
        request = GenerationRequest(build_messages(QUERIES[0]), grammar_json_schema(), 256, adapter=name)
        parse_decision(asyncio.run(engine.generate(request)).text)
    with pytest.raises(ValueError, match="is not loaded"):
        asyncio.run(
            engine.generate(GenerationRequest(build_messages("hi"), None, 8, adapter="no-such-adapter"))
        )
