"""`router bench`: /route latency against its floor, plain generation of as many tokens.

The floor is what the same engine needs to generate the same number of tokens from the same prompt
without a grammar (and without fast-forward): the cost of the tokens themselves. Both are measured in
one run, alternating a pass of routes with a pass of floors over the same queries in the same order, so
each request finds the same KV cache (the previous request's prompt: the system turn is shared, the
user turn is not) and machine noise hits both alike; the ratio is the figure to compare.
"""

from __future__ import annotations

import asyncio
import platform
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import httpx

from contract import build_messages
from service.engines import GenerationRequest, create_engine
from service.routing import Router
from service.settings import Settings

DEFAULT_QUERIES = Path(__file__).resolve().parents[1] / "bench" / "queries.txt"


def load_queries(path: Path = DEFAULT_QUERIES) -> list[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@dataclass
class Sample:
    query: str
    route_ms: float
    floor_ms: float
    completion_tokens: int
    forced_tokens: int
    tool: str


@dataclass
class BenchReport:
    machine: str
    date: str
    target: str
    samples: list[Sample] = field(default_factory=list)

    def _stats(self, values: list[float]) -> tuple[float, float]:
        return percentile(values, 50), percentile(values, 95)

    def summary(self) -> dict:
        route = [s.route_ms for s in self.samples]
        floor = [s.floor_ms for s in self.samples]
        tools = [s for s in self.samples if s.tool not in ("complete",)]
        generated = sum(s.completion_tokens for s in self.samples)
        forced = sum(s.forced_tokens for s in self.samples)
        return {
            "requests": len(self.samples),
            "route_p50_ms": self._stats(route)[0],
            "route_p95_ms": self._stats(route)[1],
            "floor_p50_ms": self._stats(floor)[0],
            "floor_p95_ms": self._stats(floor)[1],
            "ratio_p50": self._stats(route)[0] / self._stats(floor)[0],
            "tool_call_share": len(tools) / len(self.samples),
            "mean_tokens": generated / len(self.samples),
            "forced_share": forced / generated if generated else 0.0,
        }

    def table(self) -> str:
        s = self.summary()
        rows = [
            ("what", "p50 ms", "p95 ms"),
            ("/route (grammar, fast-forward, prefix cache)", f"{s['route_p50_ms']:.0f}", f"{s['route_p95_ms']:.0f}"),
            ("floor: plain generation, same prompt, same tokens", f"{s['floor_p50_ms']:.0f}", f"{s['floor_p95_ms']:.0f}"),
        ]
        lines = [f"| {a} | {b} | {c} |" for a, b, c in rows]
        lines.insert(1, "|---|---:|---:|")
        lines += [
            "",
            f"ratio route/floor at p50: {s['ratio_p50']:.2f}",
            f"requests: {s['requests']}; tokens per decision: {s['mean_tokens']:.1f}, "
            f"{100 * s['forced_share']:.0f}% forced by the grammar; tool calls: {100 * s['tool_call_share']:.0f}%",
            f"target: {self.target}; machine: {self.machine}; date: {self.date}",
        ]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"machine": self.machine, "date": self.date, "target": self.target,
                "summary": self.summary(), "samples": [asdict(s) for s in self.samples]}


def _machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def run_benchmark(settings: Settings, *, url: str | None = None, repeats: int = 3,
                  queries: list[str] | None = None) -> BenchReport:
    """Route every query `repeats` times (in-process, or over HTTP when `url` is given) beside the floor."""
    queries = queries or load_queries()
    engine = create_engine(settings)
    router = Router.from_settings(engine, settings)
    report = BenchReport(_machine(), datetime.now(timezone.utc).isoformat(timespec="seconds"),
                         url or f"in-process {engine.name}")

    async def run() -> None:
        await engine.warm_up()
        async with httpx.AsyncClient(base_url=url or "http://unused", timeout=120) as http:
            for _ in range(repeats):
                routed = [await _route(query, router, http if url else None) for query in queries]
                for query, (route_ms, tokens, forced, tool) in zip(queries, routed):
                    floor_ms = await _floor(query, tokens, engine)
                    report.samples.append(Sample(query, route_ms, floor_ms, tokens, forced, tool))

    try:
        asyncio.run(run())
    finally:
        asyncio.run(engine.close())
    return report


async def _route(query: str, router: Router, http: httpx.AsyncClient | None) -> tuple[float, int, int, str]:
    """One /route, in-process or over HTTP: (milliseconds, tokens, forced tokens, tool or "complete")."""
    started = time.perf_counter()
    if http is None:
        result = await router.route(query)
        elapsed = (time.perf_counter() - started) * 1e3
        decision = result.decision.model_dump(exclude_none=True)
        tokens, forced = result.generation.completion_tokens, result.generation.forced_tokens
    else:
        response = await http.post("/route", json={"query": query})
        response.raise_for_status()
        elapsed = (time.perf_counter() - started) * 1e3
        decision = response.json()
        tokens, forced = decision["meta"]["completion_tokens"], decision["meta"]["forced_tokens"]
    return elapsed, tokens, forced, decision.get("tool_use", {}).get("tool_name", "complete")


async def _floor(query: str, tokens: int, engine) -> float:
    """Plain generation of exactly `tokens` tokens from the same prompt, no grammar: milliseconds."""
    started = time.perf_counter()
    await engine.generate(
        GenerationRequest(build_messages(query), json_schema=None, max_tokens=tokens, ignore_eos=True)
    )
    return (time.perf_counter() - started) * 1e3
