"""A real `router serve` (uvicorn subprocess, real model): overload answers, then a graceful SIGTERM."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from contract import parse_decision
from tests.conftest import start_server, stop_server

QUERY = {"query": "where is the User class defined?", "reasoning": False}


def _in_flight(url: str) -> float:
    match = re.search(r"^router_engine_in_flight (\S+)$", httpx.get(f"{url}/metrics", timeout=10).text, re.M)
    return float(match.group(1)) if match else 0.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {
        "ROUTER_MAX_CONCURRENT_REQUESTS": "1",
        "ROUTER_MAX_QUEUED_REQUESTS": "1",
        "ROUTER_REQUEST_TIMEOUT_SECONDS": "120",
        "ROUTER_SHUTDOWN_GRACE_SECONDS": "120",
    }
    running = start_server(tmp_path_factory.mktemp("hardening_server"), env=env, ready_timeout=300)
    yield running
    stop_server(running)


def test_overload_on_the_real_server_is_429_with_retry_after_and_it_stays_ready(server):
    with ThreadPoolExecutor(6) as pool:
        answers = list(
            pool.map(lambda _: httpx.post(f"{server.url}/route", json=QUERY, timeout=300), range(6))
        )
    codes = [answer.status_code for answer in answers]
    assert set(codes) <= {200, 429, 503} and 200 in codes and codes.count(429) >= 3, codes
    for answer in answers:
        if answer.status_code == 429:
            assert int(answer.headers["Retry-After"]) >= 1
            assert answer.json()["error"]["code"] == "queue_full"
    assert httpx.get(f"{server.url}/ready", timeout=10).status_code == 200
    assert 'router_admission_rejections_total{reason="queue_full"}' in httpx.get(f"{server.url}/metrics").text


def test_sigterm_stops_accepting_finishes_in_flight_then_exits_0(server):
    """Runs last in this module: it ends the server."""
    result: dict = {}

    def in_flight_request():
        result["answer"] = httpx.post(f"{server.url}/route", json=QUERY, timeout=300)

    worker = threading.Thread(target=in_flight_request)
    worker.start()
    deadline = time.monotonic() + 60
    while _in_flight(server.url) < 1:
        assert time.monotonic() < deadline, "the request never reached the engine"
        time.sleep(0.05)
    server.process.send_signal(signal.SIGTERM)
    refused_at = None
    while refused_at is None and time.monotonic() < deadline:
        try:
            httpx.get(f"{server.url}/health", timeout=2)
        except httpx.TransportError:
            refused_at = time.monotonic()  # the listening socket is closed: no new connections
        time.sleep(0.05)
    assert refused_at is not None, "the server still accepts connections after SIGTERM"
    worker.join(timeout=300)
    answer = result["answer"]
    assert answer.status_code == 200, answer.text
    body = answer.json()
    parse_decision(json.dumps({k: v for k, v in body.items() if k != "meta"}), reasoning=False)
    assert server.process.wait(timeout=120) == 0, server.log()[-2000:]
    log = server.log()
    assert "draining in-flight requests" in log and "Traceback" not in log
