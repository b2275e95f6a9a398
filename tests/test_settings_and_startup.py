"""Settings fail fast naming the variable; the server starts, serves, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import httpx
import pytest

from service.settings import SettingsError, load_settings
from tests.conftest import REPO, start_server, stop_server


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ROUTER_PORT", "eighty"),
        ("ROUTER_PORT", "70000"),
        ("ROUTER_THREADS", "0"),
        ("ROUTER_MODEL_PATH", "/nonexistent/model.gguf"),
        ("ROUTER_ADAPTER_PATH", "/nonexistent/adapter.gguf"),
        ("ROUTER_ENGINE", "tensorrt"),
        ("ROUTER_MAX_TOKENS", "2"),
    ],
)
def test_bad_setting_stops_serve_naming_the_variable(variable, value):
    result = subprocess.run(
        [sys.executable, "-m", "router_cli.main", "serve"],
        cwd=REPO,
        env={**os.environ, variable: value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert variable in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_defaults_serve_the_embedded_model_on_loopback(monkeypatch):
    for name in list(os.environ):
        if name.startswith("ROUTER_"):
            monkeypatch.delenv(name)
    settings = load_settings()
    assert settings.host == "127.0.0.1" and settings.port == 8000
    assert settings.model_path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert settings.adapter_path is not None and settings.adapter_path.name == "adapter.gguf"
    monkeypatch.setenv("ROUTER_ADAPTER_PATH", "none")
    assert load_settings().adapter_path is None


def test_unknown_router_variables_are_named(monkeypatch):
    from service.settings import unknown_variables

    monkeypatch.setenv("ROUTER_MAX_TOKEN", "64")  # a typo of ROUTER_MAX_TOKENS
    monkeypatch.setenv("ROUTER_VLLM_MODEL", "/models/base")  # read by the vllm engine, not a typo
    assert "ROUTER_MAX_TOKEN" in unknown_variables()
    assert "ROUTER_VLLM_MODEL" not in unknown_variables()


def test_load_settings_error_lists_every_bad_variable():
    with pytest.raises(SettingsError) as caught:
        load_settings(port=0, threads=-1)
    assert "ROUTER_PORT" in str(caught.value) and "ROUTER_THREADS" in str(caught.value)


def test_importing_contract_and_the_app_pulls_no_heavy_library():
    code = textwrap.dedent(
        """
        import sys
        import contract, service.app, router_cli.main
        heavy = [m for m in ("torch", "llama_cpp", "vllm", "transformers") if m in sys.modules]
        assert not heavy, heavy
        """
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


def test_real_server_starts_routes_and_exits_zero_on_sigterm(tmp_path):
    server = start_server(tmp_path)
    response = httpx.post(f"{server.url}/route", json={"query": "where is the User class defined?"}, timeout=60)
    assert response.status_code == 200 and response.json()["status"] in ("running", "complete")
    assert stop_server(server) == 0, server.log()


def test_cli_route_prints_a_valid_decision():
    from contract import parse_decision

    result = subprocess.run(
        [sys.executable, "-m", "router_cli.main", "route", "what is 2 + 2?"],
        cwd=REPO, env={**os.environ, "ROUTER_THREADS": "1"}, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    parse_decision(result.stdout.strip())
