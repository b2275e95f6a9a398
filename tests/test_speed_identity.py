"""Grammar fast-forward: fewer forward passes for the same decision, and where "the same" ends.

The shipped adapter over the embedded base decodes real test-split requests greedily twice: forced
tokens fed in one batch each (fast-forward), and every token its own forward pass. A wrapper around
`llama_decode` counts the forward passes and records the token ids of each, so the tests see exactly
which tokens each run fed the model.

What was found (docs/speed.md, "Fast-forward identity"): llama.cpp's CPU logits depend on how the
tokens before them were batched. The same tokens evaluated as one batch or one at a time give logits
up to ~1 apart (base model and adapter alike; deterministic for a given batching), so a greedy choice
at a near-tie can flip, and the two runs then write different decisions. Byte identity therefore does
not hold (strict xfail below); what must hold is that every divergence starts at a near-tie — the
forced tokens themselves (their tokenisation at the boundaries) never cause one.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from contract import build_messages, grammar_json_schema, parse_decision
from service.engines import Generation, GenerationRequest
from service.engines.llama_load import load_llama
from service.routing import CONFIDENCE_KEYS
from service.settings import SHIPPED_ADAPTER

TEST_SPLIT = Path(__file__).resolve().parents[1] / "data" / "router" / "test.jsonl"
# Rows per decision class, the first ones of the split in file order: tool calls of every kind and answers.
PER_CLASS = {"codebase_search": 3, "file_manager": 3, "sandbox_exec": 2, "ask_human": 2, "answer": 2}
# Largest logit gap between the two runs' tokens at their first divergence that still counts as a tie
# broken by batching noise (the noise measured here: up to 0.85 on the 12 prompts).
NEAR_TIE = 1.0


def _label(output: dict) -> str:
    return output["tool_use"]["tool_name"] if output["status"] == "running" else "answer"


def identity_queries() -> list[str]:
    taken: Counter[str] = Counter()
    queries = []
    for line in TEST_SPLIT.read_text().splitlines():
        row = json.loads(line)
        label = _label(row["output"])
        if taken[label] < PER_CLASS[label]:
            taken[label] += 1
            queries.append(row["user_query"])
    assert taken == Counter(PER_CLASS), taken
    return queries


class DecodeLog:
    """Records every llama.cpp forward pass (`llama_decode` call) with its token ids, wherever
    llama-cpp-python makes it."""

    def __init__(self) -> None:
        import llama_cpp
        import llama_cpp.llama_cpp as low

        self.batches: list[list[int]] = []
        self._targets = [(low, low.llama_decode), (llama_cpp, llama_cpp.llama_decode)]
        original = low.llama_decode

        def logged(ctx, batch, *rest):
            self.batches.append([batch.token[i] for i in range(batch.n_tokens)])
            return original(ctx, batch, *rest)

        for module, _ in self._targets:
            module.llama_decode = logged

    def restore(self) -> None:
        for module, original in self._targets:
            module.llama_decode = original


@dataclass
class Run:
    generation: Generation
    passes: int
    """Forward passes after those that evaluate the prompt (however the engine splits the prompt, and
    whether or not the output's opening forced tokens ride along with its last chunk)."""
    tokens: list[int] = field(default_factory=list)
    """The output tokens, as fed back to the model after the prompt: all but those after which the
    decision was complete (the engine skips that pass)."""


@dataclass
class Pair:
    query: str
    prompt: list[int]
    fast: Run
    step: Run


def _run(engine, query: str, log: DecodeLog) -> Run:
    request = GenerationRequest(build_messages(query), grammar_json_schema(), 512, confidence_keys=CONFIDENCE_KEYS)
    start = len(log.batches)
    generation = engine.generate_sync(request)
    batches, prompt_left = log.batches[start:], generation.prompt_tokens - generation.cached_tokens
    fed: list[int] = []
    while prompt_left > len(fed):  # the passes that evaluate the uncached prompt
        fed += batches.pop(0)
    return Run(generation, len(batches), fed[prompt_left:] + [t for b in batches for t in b])


@pytest.fixture(scope="module")
def pairs(gguf_path) -> list[Pair]:
    """Each query decoded by both engines (shipped adapter, one thread), forward passes logged."""
    from service.engines.llamacpp import LlamaCppEngine

    assert SHIPPED_ADAPTER.is_file(), f"the shipped adapter {SHIPPED_ADAPTER} is missing"
    engines = {ff: LlamaCppEngine(gguf_path, adapter_path=SHIPPED_ADAPTER, n_threads=1, fast_forward=ff)
               for ff in (True, False)}  # fmt: skip
    log = DecodeLog()
    try:
        return [Pair(q, engines[True].tokenize_prompt(build_messages(q)), _run(engines[True], q, log),
                     _run(engines[False], q, log)) for q in identity_queries()]  # fmt: skip
    finally:
        log.restore()


def _differing(pairs: list[Pair]) -> list[Pair]:
    return [p for p in pairs if p.fast.generation.text != p.step.generation.text]


def test_fast_forward_forces_tokens_and_saves_forward_passes(pairs):
    for p in pairs:
        fast, step = p.fast.generation, p.step.generation
        parse_decision(fast.text)  # a complete, valid decision, not a cut-off one
        assert step.forced_tokens == 0 and fast.forced_tokens > 0, p.query
        # Step by step: one pass per output token but the last (the decision is complete without it).
        assert p.step.passes == len(p.step.tokens) == step.completion_tokens - 1, p.query
        # Fast-forward: at most one pass per sampled token, each carrying the forced tokens after it.
        assert p.fast.passes <= fast.completion_tokens - fast.forced_tokens, p.query
    same = [p for p in pairs if p not in _differing(pairs)]
    assert len(same) >= len(pairs) // 2, "most decisions should not meet a near-tie"
    for p in same:
        assert p.fast.tokens == p.step.tokens[: len(p.fast.tokens)], f"same text, different tokens: {p.query!r}"
        assert p.fast.generation.completion_tokens == p.step.generation.completion_tokens
        assert p.fast.passes < p.step.passes, (p.query, p.fast.passes, p.step.passes)


@pytest.mark.xfail(strict=True, reason="llama.cpp CPU logits depend on batching: near-ties flip (docs/speed.md)")
def test_fast_forward_output_is_byte_identical(pairs):
    differing = _differing(pairs)
    assert not differing, "\n\n".join(f"{p.query!r}\n  ff:   {p.fast.generation.text}\n  step: {p.step.generation.text}"
                                      for p in differing)  # fmt: skip


def _last_logits(llm, batches: list[list[int]]) -> np.ndarray:
    import llama_cpp

    llm.reset()
    for batch in batches:
        llm.eval(batch)
    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),)).copy()


def test_every_divergence_starts_at_a_near_tie(pairs, gguf_path):
    """Where the two runs part, both tokens were allowed and within NEAR_TIE logits of each other, both
    with everything before evaluated in one batch and with the output evaluated one token at a time."""
    llm = load_llama(gguf_path, lora_path=str(SHIPPED_ADAPTER), n_ctx=4096, n_threads=1,
                     n_threads_batch=1, verbose=False)  # fmt: skip
    for p in _differing(pairs):
        at = next(i for i, (a, b) in enumerate(zip(p.fast.tokens, p.step.tokens)) if a != b)
        fast_token, step_token, before = p.fast.tokens[at], p.step.tokens[at], p.step.tokens[:at]
        batched = _last_logits(llm, [p.prompt + before])
        stepwise = _last_logits(llm, [p.prompt] + [[t] for t in before])
        gaps = [float(logits[fast_token] - logits[step_token]) for logits in (batched, stepwise)]
        detail = f"{p.query!r}: output token {at}, ff {llm.detokenize([fast_token])!r} vs step " \
                 f"{llm.detokenize([step_token])!r}, logit gap batched/stepwise {gaps}"  # fmt: skip
        assert max(abs(g) for g in gaps) < NEAR_TIE, detail
        print(detail)
