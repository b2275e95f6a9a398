"""Would prompt-lookup drafting pay on this CPU? Acceptance on real outputs times the measured cost of a verify.

Prompt-lookup (n-gram) drafting guesses the next k output tokens by finding the output's last n tokens in
the request (or earlier in the output) and proposing what followed them there; one forward pass over the
sampled token plus the k guesses verifies them all, and the matching ones are kept. It pays when the
tokens a verify saves outweigh what the k extra tokens add to that pass.

This script measures both sides without touching the engine:

- **Acceptance**: the shipped adapter routes test-split tool-call requests (greedy, one thread, the real
  engine); each output token is marked forced (fed in a fast-forward run, never drafted) or sampled. For
  each sampled token the script replays the lookup over the prompt and the output so far, and counts how
  many guessed tokens the decision really continues with (greedy verification keeps exactly those).
- **Cost**: `llama_decode` of 1 token against 1 + k tokens, after a route prompt, with the shipped
  adapter at one thread (median of repeated calls on this machine, now).

Pass-equivalents per decision = sampled tokens not covered by an accepted draft, each weighted by the
cost of its pass (1 for a plain step, cost(1 + k) / cost(1) for a verify). A ratio below 1 is a gain.

    flock /tmp/cpu.lock uv run python -m bench.draft_estimate [--rows 60] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from contract import build_messages, grammar_json_schema
from service.engines import GenerationRequest
from service.engines.llama_load import load_llama
from service.settings import SHIPPED_ADAPTER, default_model_path

REPO = Path(__file__).resolve().parents[1]
TEST_SPLIT = REPO / "data" / "router" / "test.jsonl"
NGRAMS = (1, 2, 3)
DRAFT_LENGTHS = (2, 4, 8)


def lookup(history: list[int], source: list[int], n: int, k: int) -> list[int]:
    """The k tokens that followed the latest earlier occurrence of history's last n tokens in source."""
    if len(history) < n:
        return []
    pattern = history[-n:]
    for start in range(len(source) - n, -1, -1):
        if source[start : start + n] == pattern:
            return source[start + n : start + n + k]
    return []


def cost_in_passes(sampled: list[bool], output: list[int], request: list[int], n: int, k: int,
                   verify_cost: float) -> tuple[float, int, int]:  # fmt: skip
    """(pass-equivalents, verifies, accepted tokens) for one decision's sampled tokens."""
    passes, verifies, accepted, i = 0.0, 0, 0, 0
    while i < len(output):
        if not sampled[i]:
            i += 1
            continue
        draft = lookup(output[: i + 1], request + output[:i], n, k) if k else []
        taken = 0
        while taken < len(draft) and i + 1 + taken < len(output) and sampled[i + 1 + taken] \
                and output[i + 1 + taken] == draft[taken]:  # fmt: skip
            taken += 1
        passes += verify_cost if draft else 1.0
        verifies += bool(draft)
        accepted += taken
        i += 1 + taken
    return passes, verifies, accepted


def decode_costs(threads: int, sizes: list[int], repeats: int = 15) -> dict[int, float]:
    """Median milliseconds of one llama_decode of `size` tokens after a route prompt (adapter loaded)."""
    llm = load_llama(default_model_path(), lora_path=str(SHIPPED_ADAPTER), n_ctx=1024,
                     n_threads=threads, n_threads_batch=threads, verbose=False)  # fmt: skip
    prompt = llm.tokenize(b"where is the User class defined? it is somewhere in the models package", add_bos=True)
    costs = {}
    for size in sizes:
        times = []
        for _ in range(repeats):
            llm.reset()
            llm.eval(prompt)
            started = time.perf_counter()
            llm.eval(prompt[1 : 1 + size])
            times.append((time.perf_counter() - started) * 1e3)
        costs[size] = statistics.median(times)
    llm.close()
    return costs


def real_outputs(queries: list[str], threads: int) -> list[tuple[list[int], list[int], list[bool]]]:
    """(prompt, output tokens, sampled?) for each query, decoded by the engine with the shipped adapter."""
    from service.engines.llamacpp import LlamaCppEngine

    engine = LlamaCppEngine(default_model_path(), adapter_path=SHIPPED_ADAPTER, n_threads=threads, parallel=1)
    events: list[tuple[list[int], bool]] = []  # (tokens, sampled?) in the order the decode loop made them
    find_forced, choose = engine._forced, engine._choose

    def forced(*args):
        run = find_forced(*args)
        events.append((list(run), False))  # a copy: the engine extends the list it gets back
        return run

    def chosen(*args):
        token = choose(*args)
        events.append(([token], True))
        return token

    engine._forced, engine._choose = forced, chosen
    decoded = []
    for query in queries:
        events.clear()
        messages = build_messages(query)
        engine.generate_sync(GenerationRequest(messages, grammar_json_schema(), 512))
        kept = [(t, s) for tokens, s in events for t in tokens if t != engine._eos]
        decoded.append((engine.tokenize_prompt(messages), [t for t, _ in kept], [s for _, s in kept]))
    return decoded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60, help="tool-call rows of the test split")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    rows = [json.loads(line) for line in TEST_SPLIT.read_text().splitlines() if line.strip()]
    queries = [r["user_query"] for r in rows if r["output"]["status"] == "running"][: args.rows]
    decisions = real_outputs(queries, args.threads)
    costs = decode_costs(args.threads, [1, *(k + 1 for k in DRAFT_LENGTHS)])
    sampled_total = sum(sum(s) for _, _, s in decisions)
    lines = [
        f"machine: {platform.machine()}, {os.cpu_count()} cores; date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"threads: {args.threads}; {len(decisions)} tool-call requests of the test split, routed by the shipped adapter, "
        f"{sampled_total / len(decisions):.1f} sampled tokens each",
        "",
        "| lookup | draft tokens k | verify cost (passes) | verifies | accepted tokens | pass-equivalents | vs no drafting |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    baseline = sampled_total / len(decisions)
    lines.append(f"| none | 0 | 1.00 | 0.0 | 0.0 | {baseline:.1f} | 1.00 |")
    for n in NGRAMS:
        for k in DRAFT_LENGTHS:
            verify_cost = costs[k + 1] / costs[1]
            totals = [cost_in_passes(s, o, r, n, k, verify_cost) for r, o, s in decisions]
            passes, verifies, accepted = (sum(t[i] for t in totals) / len(totals) for i in range(3))
            lines.append(f"| last {n} token{'s' if n > 1 else ''} | {k} | {verify_cost:.2f} | {verifies:.1f} "
                         f"| {accepted:.1f} | {passes:.1f} | {passes / baseline:.2f} |")  # fmt: skip
    lines += ["", "llama_decode ms by tokens in the pass: " + ", ".join(f"{n}: {ms:.1f}" for n, ms in costs.items())]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
