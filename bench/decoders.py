"""Direct llguidance vs Outlines' llguidance backend, on the embedded model, in one run.

Both decode the same prompts under the same decision schema, greedily, on llama-cpp-python. The
direct path is our engine (service/engines/llamacpp.py): compact JSON, fast-forward, KV prefix reuse.
Outlines drives `Llama.create_completion` with a logits processor and leaves JSON whitespace free.

    uv run --group bench python -m bench.decoders [--queries 12] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import datetime, timezone

from contract import build_messages, grammar_json_schema, parse_decision
from service.benchmark import load_queries
from service.engines import GenerationRequest
from service.engines.llama_load import load_llama
from service.engines.llamacpp import LlamaCppEngine
from service.settings import default_model_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import outlines
    from outlines.types import JsonSchema

    gguf = default_model_path()
    schema = grammar_json_schema()
    queries = load_queries()[: args.queries]
    variants = {
        "direct llguidance, fast-forward": LlamaCppEngine(gguf, n_threads=args.threads),
        "direct llguidance, step by step": LlamaCppEngine(gguf, n_threads=args.threads, fast_forward=False),
    }
    llm = load_llama(gguf, n_ctx=4096, n_threads=args.threads, verbose=False)
    outlines_model = outlines.from_llamacpp(llm, chat_mode=False)
    output_type = JsonSchema(json.dumps(schema))
    prompt_of = variants["direct llguidance, fast-forward"].render

    results: dict[str, list[tuple[float, int, bool, bool]]] = {name: [] for name in [*variants, "outlines + llguidance"]}
    for query in queries:
        messages = build_messages(query)
        for name, engine in variants.items():
            started = time.perf_counter()
            g = engine.generate_sync(GenerationRequest(messages, schema, max_tokens=512))
            results[name].append(_row(started, g.text, g.completion_tokens))
        started = time.perf_counter()
        text = outlines_model(prompt_of(messages), output_type, backend="llguidance", max_tokens=512, temperature=0)
        tokens = len(llm.tokenize(text.encode(), add_bos=False))
        results["outlines + llguidance"].append(_row(started, text, tokens))

    print(f"machine: {platform.machine()}, threads {args.threads}; date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; "
          f"{len(queries)} queries, greedy, same schema")
    print("| decoder | p50 ms | mean ms | tokens/decision | compact JSON | valid |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, rows in results.items():
        ms = [r[0] for r in rows]
        print(f"| {name} | {statistics.median(ms):.0f} | {statistics.mean(ms):.0f} | "
              f"{statistics.mean(r[1] for r in rows):.1f} | {sum(r[2] for r in rows)}/{len(rows)} | "
              f"{sum(r[3] for r in rows)}/{len(rows)} |")


def _row(started: float, text: str, tokens: int) -> tuple[float, int, bool, bool]:
    elapsed = (time.perf_counter() - started) * 1e3
    try:
        parse_decision(text)
        valid = True
    except ValueError:
        valid = False
    compact = text == json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False) if valid else False
    return elapsed, tokens, compact, valid


if __name__ == "__main__":
    main()
