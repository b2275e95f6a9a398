"""Continuous batching in the llama.cpp engine, on the real model: several requests share each decode
step, and none of them can tell (same text as alone; its deadline, error or departure is its own).

"Same text as alone" is checked on an engine with flash attention (`exact`), whose kernels round the same
whether a step holds one sequence or four: there any difference is a scheduler bug (a wrong position, a
row of logits handed to the wrong sequence). The default kernel rounds differently in a batched step, so on
it the test checks validity, not identity (see docs/speed.md, "Concurrency")."""

from __future__ import annotations

import asyncio
import time

import pytest

from contract import build_messages, grammar_json_schema
from service.engines import DeadlineExceeded, EngineError, GenerationRequest

QUERIES = (
    "where is the User class defined?",
    "how does authentication work in this codebase?",
    "what is 17 * 23?",
    "delete the build folder",
)


def _route(query: str, **kwargs) -> GenerationRequest:
    return GenerationRequest(build_messages(query), grammar_json_schema(), **({"max_tokens": 256} | kwargs))


def _long_story(**kwargs) -> GenerationRequest:
    return GenerationRequest(
        build_messages("tell me a long story"), None, max_tokens=400, ignore_eos=True, **kwargs
    )


async def _gather(engine, requests):
    return await asyncio.gather(*(engine.generate(r) for r in requests), return_exceptions=True)


@pytest.fixture(scope="module")
def exact(gguf_path):
    """Four slots, with flash attention: batching-invariant kernels (see the module docstring)."""
    from service.engines.llamacpp import LlamaCppEngine

    engine = LlamaCppEngine(gguf_path, n_threads=1, parallel=4, flash_attn=True)
    yield engine
    asyncio.run(engine.close())


@pytest.fixture(scope="module")
def serial_engine(gguf_path):
    """One sequence slot: requests are decoded one after another."""
    from service.engines.llamacpp import LlamaCppEngine

    engine = LlamaCppEngine(gguf_path, n_threads=1, parallel=1, flash_attn=True)
    yield engine
    asyncio.run(engine.close())


@pytest.fixture(scope="module")
def alone(exact):
    """Each query's generation run on its own, with no prefix cached."""
    results = {}
    for query in QUERIES:
        exact.clear_cache()
        results[query] = exact.generate_sync(_route(query))
    return results


def test_default_engine_batches_concurrent_requests_into_valid_decisions(engine):
    from contract import parse_decision

    engine._scheduler.most_batched = 0
    together = asyncio.run(_gather(engine, [_route(q) for q in QUERIES]))
    assert engine.most_batched == len(QUERIES)
    for generation in together:
        assert generation.finish_reason == "stop"
        parse_decision(generation.text)


def test_concurrent_requests_decode_exactly_as_alone(exact, alone):
    engine = exact
    engine.clear_cache()
    engine._scheduler.most_batched = 0
    together = asyncio.run(_gather(engine, [_route(q) for q in QUERIES]))
    assert engine.most_batched == len(QUERIES), "all four were decoded in the same steps"
    for query, generation in zip(QUERIES, together):
        assert generation.text == alone[query].text, query
        assert generation.completion_tokens == alone[query].completion_tokens
    # Again, now that every slot holds a cached prompt: reuse changes nothing either.
    again = asyncio.run(_gather(engine, [_route(q) for q in QUERIES]))
    assert [g.text for g in again] == [alone[q].text for q in QUERIES]
    assert all(g.cached_tokens == g.prompt_tokens - 1 for g in again), [g.cached_tokens for g in again]


def test_one_requests_deadline_does_not_affect_the_others(exact, alone):
    engine = exact
    doomed = _long_story(deadline=time.monotonic() + 0.5)
    results = asyncio.run(_gather(engine, [doomed, *(_route(q) for q in QUERIES[:3])]))
    assert isinstance(results[0], DeadlineExceeded), results[0]
    assert [g.text for g in results[1:]] == [alone[q].text for q in QUERIES[:3]]
    assert engine.busy_slots() == 0


def test_a_failing_sequence_fails_its_request_only(exact, alone):
    """A grammar that breaks mid-decode (here: a matcher that raises) ends that request alone."""
    engine = exact

    class BrokenMatcher:
        def compute_ff_tokens(self):
            raise EngineError("grammar failure (injected)")

    async def main():
        prepared = [engine._prepare(_route(q)) for q in QUERIES[:3]]
        futures = []
        loop = asyncio.get_running_loop()
        for (prompt, matcher, compile_ms), broken in zip(prepared, (False, True, False)):
            future = loop.create_future()

            def sink(item, future=future):
                if not isinstance(item, bytes):
                    loop.call_soon_threadsafe(future.set_result, item)

            request = _route(QUERIES[len(futures)])
            engine._submit(request, prompt, BrokenMatcher() if broken else matcher, compile_ms, sink)
            futures.append(future)
        return await asyncio.gather(*futures)

    first, broken, third = asyncio.run(main())
    assert isinstance(broken, EngineError) and "injected" in str(broken)
    assert (first.text, third.text) == (alone[QUERIES[0]].text, alone[QUERIES[2]].text)
    assert engine.busy_slots() == 0


def test_a_new_request_takes_the_slot_with_the_longest_shared_prefix(engine):
    engine.clear_cache()
    first = asyncio.run(_gather(engine, [_route(q) for q in QUERIES]))  # one prompt per slot
    assert all(g.cached_tokens == 0 for g in first)
    same = engine.generate_sync(_route(QUERIES[2]))
    assert same.cached_tokens == same.prompt_tokens - 1, "found the one slot holding this prompt"
    other = engine.generate_sync(_route("what is a semaphore?"))
    # The system turn is most of a short prompt: reused from whichever slot, the user turn is not.
    assert other.prompt_tokens // 2 < other.cached_tokens < other.prompt_tokens - 1


def test_prefix_cache_off_recomputes_every_prompt_and_changes_no_text(gguf_path, alone):
    from service.engines.llamacpp import LlamaCppEngine

    engine = LlamaCppEngine(gguf_path, n_threads=1, prefix_cache=False, flash_attn=True)
    try:
        for query in QUERIES[:2]:
            for _ in range(2):
                generation = engine.generate_sync(_route(query))
                assert generation.cached_tokens == 0
                assert generation.text == alone[query].text
    finally:
        asyncio.run(engine.close())


def test_an_abandoned_stream_frees_its_slot_for_the_next_request(serial_engine):
    async def main():
        stream = serial_engine.stream(_long_story())
        async for _ in stream:
            break
        await stream.aclose()
        started = time.monotonic()
        # One slot only: this completes only if the abandoned stream gave its slot back.
        generation = await serial_engine.generate(_route(QUERIES[0], deadline=time.monotonic() + 60))
        return generation, time.monotonic() - started

    generation, waited = asyncio.run(main())
    assert generation.finish_reason == "stop"
    assert waited < 30, "it did not wait for the 400-token story to finish"


def test_requests_beyond_the_slots_wait_their_turn(serial_engine, alone):
    results = asyncio.run(_gather(serial_engine, [_route(q) for q in QUERIES[:3]]))
    assert serial_engine.most_batched == 1
    assert [g.text for g in results] == [alone[q].text for q in QUERIES[:3]]


def test_a_request_whose_deadline_passes_while_waiting_for_a_slot_is_abandoned(serial_engine):
    async def main():
        story = asyncio.ensure_future(serial_engine.generate(_long_story(deadline=time.monotonic() + 1.5)))
        await asyncio.sleep(0.3)  # the story holds the only slot
        waiting = serial_engine.generate(_route(QUERIES[0], deadline=time.monotonic() + 0.3))
        return await asyncio.gather(story, waiting, return_exceptions=True)

    story, waiting = asyncio.run(main())
    assert isinstance(story, DeadlineExceeded) and isinstance(waiting, DeadlineExceeded)
    assert "waiting for a free sequence slot" in str(waiting)


def test_close_ends_unfinished_requests_and_stops_the_scheduler(gguf_path):
    from service.engines.llamacpp import LlamaCppEngine

    engine = LlamaCppEngine(gguf_path, n_threads=1, parallel=1)

    async def main():
        running = asyncio.ensure_future(engine.generate(_long_story()))
        await asyncio.sleep(0.3)
        await engine.close()
        return await asyncio.gather(running, return_exceptions=True)

    (result,) = asyncio.run(main())
    assert isinstance(result, EngineError) and "closed" in str(result)
    with pytest.raises(EngineError, match="closed"):
        engine.generate_sync(_route(QUERIES[0]))


def test_router_parallel_sets_the_slots_and_admission_unless_admission_is_given(monkeypatch):
    from service.settings import load_settings

    monkeypatch.setenv("ROUTER_PARALLEL", "8")
    assert (load_settings().parallel, load_settings().max_concurrent_requests) == (8, 9)
    monkeypatch.setenv("ROUTER_MAX_CONCURRENT_REQUESTS", "3")
    assert load_settings().max_concurrent_requests == 3
    monkeypatch.setenv("ROUTER_PARALLEL", "0")
    with pytest.raises(ValueError, match="ROUTER_PARALLEL"):
        load_settings()
