"""Time to first token vs whole-answer latency of /v1/chat/completions, through the openai SDK.

Starts `router serve` on a free loopback port (the embedded default model), then for each query sends
the same request streamed and not streamed, in three modes: the router's own decision, a named tool
call on our four tools, and a foreign function. Prints a Markdown table with the machine and date.

    uv run python -m bench.openai_stream [--queries 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import openai

from service.benchmark import load_queries
from service.openai_protocol import router_tools
from tests.conftest import start_server, stop_server

ROUTER_TOOLS = router_tools()
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
MODES = {
    "router decision": {},
    "named tool (ours)": {
        "tools": ROUTER_TOOLS,
        "tool_choice": {"type": "function", "function": {"name": "codebase_search"}},
    },
    "foreign function": {"tools": [WEATHER], "tool_choice": "required"},
}


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e3:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    queries = load_queries()[: args.queries]
    server = start_server(Path(tempfile.mkdtemp()), env={"ROUTER_THREADS": str(args.threads)})
    try:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=120)
        model = client.models.list().data[0].id
        rows = []
        for mode, extra in MODES.items():
            ttft, streamed, whole, tokens = [], [], [], []
            for query in queries:
                messages = [{"role": "user", "content": query}]
                started = time.perf_counter()
                reply = client.chat.completions.create(model=model, messages=messages, **extra)
                whole.append(time.perf_counter() - started)
                tokens.append(reply.usage.completion_tokens)
                started, first = time.perf_counter(), None
                stream = client.chat.completions.create(model=model, messages=messages, stream=True, **extra)
                for chunk in stream:
                    delta = chunk.choices[0].delta if chunk.choices else None
                    if first is None and delta and (delta.content or delta.tool_calls or delta.model_extra):
                        first = time.perf_counter() - started
                ttft.append(first)
                streamed.append(time.perf_counter() - started)
            rows.append((mode, _ms(ttft), _ms(streamed), _ms(whole), statistics.median(tokens)))
    finally:
        stop_server(server)
    print(f"# /v1/chat/completions latency ({len(queries)} queries, median)\n")
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, {args.threads} engine thread(s), "
          f"load average {os.getloadavg()[0]:.1f}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")
    print("Each streamed request follows the same request not streamed, so its prompt is in the KV cache:")
    print("its first-token time is mostly decode, not prefill.\n")
    print("| mode | first token ms (stream) | whole stream ms | not streamed ms | completion tokens |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


if __name__ == "__main__":
    main()
