"""Throughput of `POST /route` at concurrency 1, 4 and 16: one sequence slot (serial) against the default.

For each engine setting (ROUTER_PARALLEL=1, the serial before; then the default, batched) it starts a
real `router serve` (subprocess, embedded default engine, ROUTER_THREADS=1 as the tests use), warms it,
then runs closed-loop clients: each sends the next query of bench/queries.txt as soon as its last answer
arrives, until --requests answers are in. Queue limits are raised so every request is served (this
measures speed, not overload). Prints a Markdown table (requests/s, p50/p95 latency, generated tokens/s)
with the machine and the date, and counts the queries that got the same response under both settings.

    uv run python -m bench.throughput [--requests 32] [--out throughput.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tests.conftest import load_queries, start_server, stop_server

CONCURRENCY = (1, 4, 16)
SERVE_ALL = {
    "ROUTER_MAX_QUEUED_REQUESTS": "1000",
    "ROUTER_MAX_QUEUE_WAIT_SECONDS": "600",
    "ROUTER_REQUEST_TIMEOUT_SECONDS": "600",
    "ROUTER_MAX_REQUEST_TIMEOUT_SECONDS": "600",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_level(url: str, queries: list[str], concurrency: int, total: int) -> dict:
    """`concurrency` clients, closed loop, until `total` answers; every answer must be a 200."""
    next_index = 0
    latencies: list[float] = []
    generated = 0
    decisions: dict[str, str] = {}

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal next_index, generated
        while next_index < total:
            query = queries[next_index % len(queries)]
            next_index += 1
            started = time.perf_counter()
            answer = await http.post("/route", json={"query": query})
            latencies.append(time.perf_counter() - started)
            if answer.status_code != 200:
                raise RuntimeError(f"{answer.status_code} for {query!r}: {answer.text[:300]}")
            body = answer.json()
            generated += body["meta"]["completion_tokens"]
            decisions[query] = json.dumps({k: v for k, v in body.items() if k != "meta"}, sort_keys=True)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=900, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "seconds": wall,
        "requests_per_s": len(latencies) / wall,
        "p50_ms": percentile(latencies, 0.50) * 1e3,
        "p95_ms": percentile(latencies, 0.95) * 1e3,
        "generated_tokens_per_s": generated / wall,
        "decisions": decisions,
    }


def measure(parallel: str | None, queries: list[str], total: int, tmp: Path) -> list[dict]:
    env = dict(SERVE_ALL)
    if parallel is not None:
        env["ROUTER_PARALLEL"] = parallel
    server = start_server(tmp, env=env)
    try:
        with httpx.Client(base_url=server.url, timeout=300) as http:  # warm: grammar, caches, allocator
            for query in queries[:2]:
                http.post("/route", json={"query": query}).raise_for_status()
        rows = []
        for concurrency in CONCURRENCY:
            row = asyncio.run(run_level(server.url, queries, concurrency, total))
            row["parallel"] = parallel or "default"
            rows.append(row)
            print(
                f"  parallel={row['parallel']} concurrency={concurrency}: {row['requests_per_s']:.2f} req/s",
                file=sys.stderr,
                flush=True,
            )
        return rows
    finally:
        stop_server(server)


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    return f"{platform.node()}, {cpu}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}"


def table(rows: list[dict], default_parallel: int) -> str:
    lines = [
        "| ROUTER_PARALLEL | concurrency | requests | requests/s | p50 latency | p95 latency | generated tokens/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        parallel = f"{default_parallel} (default)" if r["parallel"] == "default" else r["parallel"]
        lines.append(
            f"| {parallel} | {r['concurrency']} | {r['requests']} | {r['requests_per_s']:.2f} | "
            f"{r['p50_ms']:.0f} ms | {r['p95_ms']:.0f} ms | {r['generated_tokens_per_s']:.1f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=32, help="answers per concurrency level")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    from service.settings import Settings

    default_parallel = Settings.model_fields["parallel"].default
    queries = load_queries()
    started = datetime.now(UTC)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure("1", queries, args.requests, Path(tmp)) + measure(
            None, queries, args.requests, Path(tmp)
        )
    serial = {q: d for r in rows if r["parallel"] == "1" for q, d in r["decisions"].items()}
    batched = {q: d for r in rows if r["parallel"] == "default" for q, d in r["decisions"].items()}
    same = sum(serial[q] == batched.get(q) for q in serial)
    load = (
        f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after (other work on the machine)"
    )
    print(f"Throughput of POST /route, {machine()}, {started:%Y-%m-%d %H:%M} UTC; {load}")
    print(
        f"$ uv run python -m bench.throughput --requests {args.requests}  (real server, ROUTER_THREADS=1, "
        f"adapter: {os.environ.get('ROUTER_ADAPTER_PATH', 'shipped default')})\n"
    )
    print(table(rows, default_parallel))
    # Not a failure when they differ: batched steps round differently, and near-ties may flip (docs/speed.md).
    print(f"\nsame response text under both settings: {same} of {len(serial)} queries")
    if args.out:
        for r in rows:
            r.pop("decisions")
        args.out.write_text(
            json.dumps({"machine": machine(), "date": started.isoformat(), "rows": rows}, indent=2)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
