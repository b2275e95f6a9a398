"""Load test: N concurrent clients for T seconds against `router serve` on the embedded default.

Starts a real server (uvicorn subprocess on a free loopback port) unless --url is given, runs the
clients, then checks what issue 8 asks: every answer is 200, 429 or 503 (some 200s), no transport
errors, the server is still ready afterwards, and its memory stayed flat. Prints a table (throughput,
latency percentiles, answer mix, decisions, memory), optionally writes JSON, exits 1 if a check failed.
Bounded: it stops by itself after T seconds plus a drain limit, and stops the server it started.

    uv run python -m bench.load_test --clients 32 --duration 20 [--out load.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import httpx

from tests.conftest import start_server

REPO = Path(__file__).resolve().parents[1]
QUERIES = [
    line.strip()
    for line in (REPO / "bench" / "queries.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
ALLOWED = {200, 429, 503}


@dataclass
class Report:
    clients: int
    duration_s: float
    machine: str
    date: str
    command: str
    server_settings: dict
    requests: int = 0
    statuses: dict = field(default_factory=dict)
    transport_errors: dict = field(default_factory=dict)
    decisions: dict = field(default_factory=dict)
    throughput_rps: float = 0.0
    ok_throughput_rps: float = 0.0
    latency_ms: dict = field(default_factory=dict)
    rejected_latency_ms: dict = field(default_factory=dict)
    rss_mb: dict = field(default_factory=dict)
    ready_after: bool = False
    exit_code: int | None = None
    failures: list = field(default_factory=list)

    def table(self) -> str:
        lat, rej, rss = self.latency_ms, self.rejected_latency_ms, self.rss_mb
        rows = [
            ("clients x seconds", f"{self.clients} x {self.duration_s:g}"),
            ("requests", str(self.requests)),
            ("answers", ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items())) or "-"),
            ("transport errors", ", ".join(f"{k}: {v}" for k, v in self.transport_errors.items()) or "0"),
            ("throughput (all / 200s)", f"{self.throughput_rps:.1f} / {self.ok_throughput_rps:.2f} req/s"),
            (
                "200 latency p50 / p90 / p99 / max",
                " / ".join(f"{lat.get(p, 0):.0f}" for p in ("p50", "p90", "p99", "max")) + " ms",
            ),
            ("429/503 latency p50 / p99", f"{rej.get('p50', 0):.1f} / {rej.get('p99', 0):.1f} ms"),
            ("decisions", ", ".join(f"{k}: {v}" for k, v in sorted(self.decisions.items())) or "-"),
            (
                "server RSS start / end / peak",
                f"{rss.get('start', 0):.0f} / {rss.get('end', 0):.0f} / {rss.get('peak', 0):.0f} MB",
            ),
            ("ready afterwards", str(self.ready_after)),
            ("server exit code (SIGTERM)", str(self.exit_code)),
            ("checks", "PASS" if not self.failures else "FAIL: " + "; ".join(self.failures)),
        ]
        width = max(len(name) for name, _ in rows)
        header = f"load test, {self.machine}, {self.date}\n$ {self.command}\n"
        return header + "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def percentiles(values: list[float]) -> dict:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": ordered[-1], "n": len(ordered)}


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def client_loop(
    client: httpx.AsyncClient, stop_at: float, results: list, errors: Counter, max_backoff: float
):
    rng = random.Random()
    while time.monotonic() < stop_at:
        query = rng.choice(QUERIES)
        started = time.monotonic()
        try:
            answer = await client.post("/route", json={"query": query})
        except httpx.TransportError as error:
            errors[type(error).__name__] += 1
            await asyncio.sleep(0.1)
            continue
        elapsed = (time.monotonic() - started) * 1e3
        decision = None
        if answer.status_code == 200:
            body = answer.json()
            decision = body["tool_use"]["tool_name"] if body.get("status") == "running" else "direct answer"
        results.append((answer.status_code, elapsed, decision))
        if answer.status_code in (429, 503):  # a polite client honours Retry-After (capped, jittered)
            retry_after = float(answer.headers.get("Retry-After", "1"))
            await asyncio.sleep(min(retry_after, max_backoff) * rng.uniform(0.5, 1.0))


async def run_clients(
    url: str, clients: int, duration: float, max_backoff: float, rss_samples: list, pid: int | None
):
    results: list = []
    errors: Counter = Counter()
    stop_at = time.monotonic() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    # Client timeout: the server's default deadline (30 s) plus queue wait (10 s) plus slack.
    async with httpx.AsyncClient(base_url=url, timeout=90, limits=limits) as client:

        async def sample_memory():
            while time.monotonic() < stop_at and pid is not None:
                rss_samples.append(rss_mb(pid)[0])
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample_memory())
        await asyncio.gather(
            *(client_loop(client, stop_at, results, errors, max_backoff) for _ in range(clients))
        )
        await sampler
    return results, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    parser.add_argument("--url", help="a running server instead of starting one (no memory figures)")
    parser.add_argument(
        "--max-backoff", type=float, default=1.0, help="cap on honouring Retry-After, seconds"
    )
    parser.add_argument(
        "--threads", type=int, help="ROUTER_THREADS for the server (default: the server's default)"
    )
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    parser.add_argument("--out", type=Path, help="also write the report as JSON here")
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp"), help="Where the server's log goes.")
    args = parser.parse_args(argv)

    server_env = {"ROUTER_THREADS": str(args.threads)} if args.threads else {}
    report = Report(
        clients=args.clients,
        duration_s=args.duration,
        machine=f"{platform.node()}: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}",
        date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        command="python -m bench.load_test " + " ".join(argv if argv is not None else sys.argv[1:]),
        server_settings={k: v for k, v in os.environ.items() if k.startswith("ROUTER_")} | server_env,
    )
    process = None
    url = args.url
    if url is None:
        server = start_server(args.log_dir, server_env, args.ready_timeout)
        process, url = server.process, server.url
    pid = process.pid if process else None
    rss_samples: list[float] = []
    started = time.monotonic()
    results, errors = asyncio.run(
        run_clients(url, args.clients, args.duration, args.max_backoff, rss_samples, pid)
    )
    elapsed = time.monotonic() - started

    statuses = Counter(status for status, _, _ in results)
    report.requests = len(results)
    report.statuses = {str(k): v for k, v in statuses.items()}
    report.transport_errors = dict(errors)
    report.decisions = dict(Counter(d for _, _, d in results if d))
    report.throughput_rps = len(results) / elapsed
    report.ok_throughput_rps = statuses[200] / elapsed
    report.latency_ms = percentiles([ms for status, ms, _ in results if status == 200])
    report.rejected_latency_ms = percentiles([ms for status, ms, _ in results if status != 200])
    try:
        report.ready_after = httpx.get(f"{url}/ready", timeout=10).status_code == 200
    except httpx.TransportError:
        report.ready_after = False
    if pid is not None:
        current, peak = rss_mb(pid)
        report.rss_mb = {"start": rss_samples[0] if rss_samples else current, "end": current, "peak": peak}
        process.send_signal(signal.SIGTERM)
        try:
            report.exit_code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            report.exit_code = process.wait()

    if set(statuses) - ALLOWED:
        report.failures.append(f"answers other than 200/429/503: {sorted(set(statuses) - ALLOWED)}")
    if errors:
        report.failures.append(f"transport errors: {dict(errors)}")
    if not statuses[200]:
        report.failures.append("no 200 at all")
    if not report.ready_after:
        report.failures.append("server not ready afterwards")
    if report.rss_mb and report.rss_mb["end"] > report.rss_mb["start"] * 1.25 + 50:
        report.failures.append(
            f"memory grew from {report.rss_mb['start']:.0f} to {report.rss_mb['end']:.0f} MB"
        )
    if process is not None and report.exit_code != 0:
        report.failures.append(f"server exit code {report.exit_code} after SIGTERM")

    print(report.table())
    if args.out:
        args.out.write_text(json.dumps(asdict(report), indent=2))
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
