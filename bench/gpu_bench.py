"""GPU benchmark of the vllm engine: route latency p50/p95/p99 at concurrency 1, 8 and 32, with and
without the LoRA adapter, constrained (the decision grammar) vs unconstrained generation.

Run on a GPU host, in an environment with vLLM (`.ci/vllm-env`, or the Docker image):
    ROUTER_VLLM_MODEL=/models/base ROUTER_VLLM_ADAPTERS='{"router": "/adapters/router"}' \\
        .venv-vllm/bin/python -m bench.gpu_bench [--requests 96] [--max-tokens 128]
Unconstrained runs generate exactly as many tokens as the matching constrained run produced on average
(ignore_eos), so the comparison isolates the grammar's cost. Prints a table with the machine and date.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from contract import build_messages, grammar_json_schema  # noqa: E402
from service.engines.base import GenerationRequest  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def gpu_name() -> str:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True
        )
        return out.stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "unknown GPU"


async def run_case(engine, queries, *, concurrency, adapter, constrained, max_tokens, fixed_tokens=None):
    semaphore = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    tokens: list[int] = []

    async def one(query: str) -> None:
        request = GenerationRequest(
            messages=build_messages(query),
            json_schema=grammar_json_schema() if constrained else None,
            max_tokens=fixed_tokens or max_tokens,
            adapter=adapter,
            ignore_eos=fixed_tokens is not None,
        )
        async with semaphore:
            started = time.perf_counter()
            generation = await engine.generate(request)
            latencies.append((time.perf_counter() - started) * 1e3)
            tokens.append(generation.completion_tokens)

    started = time.perf_counter()
    await asyncio.gather(*(one(query) for query in queries))
    wall = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        "adapter": adapter or "-",
        "constrained": constrained,
        "requests": len(queries),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "mean_tokens": statistics.mean(tokens),
        "tokens_per_s": sum(tokens) / wall,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=96, help="requests per case (queries are cycled)")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "gpu_bench.json")
    args = parser.parse_args()

    from service.engines.vllm import VLLMEngine, load_vllm_settings

    settings = load_vllm_settings()
    engine = VLLMEngine(settings)
    await engine.warm_up()
    lines = [line.strip() for line in (REPO / "bench" / "queries.txt").read_text().splitlines()]
    base = [line for line in lines if line and not line.startswith("#")]
    queries = [base[i % len(base)] for i in range(args.requests)]
    adapters = [None, *sorted(settings.adapters)[:1]]

    rows = []
    for adapter in adapters:
        for concurrency in args.concurrency:
            constrained = await run_case(
                engine,
                queries,
                concurrency=concurrency,
                adapter=adapter,
                constrained=True,
                max_tokens=args.max_tokens,
            )
            plain = await run_case(
                engine, queries, concurrency=concurrency, adapter=adapter, constrained=False,
                max_tokens=args.max_tokens, fixed_tokens=max(1, round(constrained["mean_tokens"])),
            )  # fmt: skip
            rows += [constrained, plain]
    await engine.close()

    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "gpu": gpu_name(),
        "host": platform.node(),
        "model": settings.model,
        "backend": settings.backend,
        "quantization": settings.quantization,
        "ngram_speculative_tokens": settings.ngram_speculative_tokens,
    }
    header = f"{'conc':>4} {'adapter':>10} {'grammar':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    header += f" {'tok/req':>7} {'tok/s':>8}"
    print(" ".join(f"{key}={value}" for key, value in meta.items()))
    print(header)
    for row in rows:
        print(
            f"{row['concurrency']:>4} {row['adapter']:>10} {'on' if row['constrained'] else 'off':>7} "
            f"{row['p50_ms']:>8.1f} {row['p95_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['mean_tokens']:>7.1f} "
            f"{row['tokens_per_s']:>8.0f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
