"""The remote engine against real OpenAI-compatible servers.

- llama-cpp-python's own server (`python -m llama_cpp.server`) over the SmolLM2 GGUF: it enforces a schema
  sent as `{"type": "json_object", "schema": ...}`, rejects OpenAI's `json_schema` type, and silently
  ignores vLLM's `structured_outputs` body field — so the canary must accept the first and refuse the last.
- A tiny stdlib HTTP server that answers like OpenAI without honouring `response_format`, or flaps with
  503s and stalls: the canary refusal, the retries with backoff and the timeouts.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from contract import build_messages
from service.engines.base import EngineError, GenerationRequest
from service.engines.remote import (
    ConstraintIgnored,
    RemoteEngine,
    RemoteSettings,
    canary_schema,
    load_remote_settings,
    to_request_body,
)
from tests.conftest import free_port


def _run(coro):
    return asyncio.run(coro)


async def _with_engine(settings: RemoteSettings, action):
    engine = RemoteEngine(settings)
    try:
        return await action(engine)
    finally:
        await engine.close()


# --- a real llama-cpp-python server ------------------------------------------------------------


def test_canary_accepts_a_server_that_enforces_the_schema(llama_cpp_server):
    settings = RemoteSettings(base_url=llama_cpp_server, model="smollm2", constraint="json_object")
    _run(_with_engine(settings, lambda engine: engine.warm_up()))  # warm_up runs the canary


def test_canary_refuses_the_real_server_when_it_ignores_the_field(llama_cpp_server):
    # llama-cpp-python does not know vLLM's `structured_outputs` field: it answers, unconstrained.
    settings = RemoteSettings(base_url=llama_cpp_server, model="smollm2", constraint="structured_outputs")
    with pytest.raises(
        ConstraintIgnored, match="ignores the JSON schema sent as constraint='structured_outputs'"
    ):
        _run(_with_engine(settings, lambda engine: engine.check_constraints()))


def test_a_rejected_dialect_names_the_setting_to_change(llama_cpp_server):
    settings = RemoteSettings(
        base_url=llama_cpp_server, model="smollm2", constraint="response_format", max_retries=0
    )
    with pytest.raises(EngineError, match="try ROUTER_REMOTE_CONSTRAINT=structured_outputs or json_object"):
        _run(_with_engine(settings, lambda engine: engine.check_constraints()))


def test_generate_and_stream_through_the_real_server(llama_cpp_server):
    # llama.cpp's own schema-to-GBNF converter cannot parse the decision schema's `\\S` patterns (the
    # server process dies on it), so this uses a pattern-free choice; decisions go to vLLM servers.
    settings = RemoteSettings(base_url=llama_cpp_server, model="smollm2", constraint="json_object")
    tools = ["codebase_search", "file_manager", "sandbox_exec", "ask_human"]
    modes = ["exact", "semantic", "hybrid"]
    schema = {
        "type": "object",
        "properties": {"tool_name": {"enum": tools}, "mode": {"enum": modes}},
        "required": ["tool_name", "mode"],
        "additionalProperties": False,
    }
    request = GenerationRequest(
        messages=build_messages("list the files in src/"), json_schema=schema, max_tokens=40
    )

    async def both(engine):
        return await engine.generate(request), [item async for item in engine.stream(request)]

    generation, streamed = _run(_with_engine(settings, both))
    assert generation.prompt_tokens > 10 and 0 < generation.completion_tokens <= 40
    assert generation.finish_reason == "stop", generation.text
    answer = json.loads(generation.text)
    assert answer["tool_name"] in tools and answer["mode"] in modes and len(answer) == 2
    *pieces, final = streamed  # text pieces, then the finished Generation
    assert "".join(pieces) == final.text == generation.text  # greedy: the stream carries the same text
    assert final.finish_reason == "stop" and final.completion_tokens == generation.completion_tokens


# --- a tiny real HTTP server with scripted misbehaviour ------------------------------------------


class _Script:
    """What the fake OpenAI server does, request by request."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.bodies: list[dict] = []
        self.times: list[float] = []


def _completion(text: str) -> dict:
    return {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 7},
    }


@pytest.fixture
def fake_server():
    servers = []

    def start(replies):
        script = _Script(replies)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                script.bodies.append(body)
                script.times.append(time.monotonic())
                status, payload, delay = script.replies.pop(0) if script.replies else (200, None, 0)
                time.sleep(delay)
                data = json.dumps(payload if payload is not None else _completion("Hello there!")).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.handle_error = lambda request, address: None  # a client that timed out is expected here
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1", script

    yield start
    for server in servers:
        server.shutdown()


def test_canary_refuses_a_server_that_ignores_response_format(fake_server):
    url, script = fake_server([])  # always answers "Hello there!", whatever the schema
    settings = RemoteSettings(base_url=url, model="m")
    with pytest.raises(ConstraintIgnored, match="got 'Hello there!'"):
        _run(_with_engine(settings, lambda engine: engine.warm_up()))
    sent = script.bodies[0]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["strict"] is True
    value = sent["json_schema"]["schema"]["properties"]["canary"]["enum"][0]
    assert value.startswith("zq-") and value.endswith("-canary")


def test_retries_with_backoff_then_succeeds(fake_server):
    url, script = fake_server([(503, {"error": "busy"}, 0), (429, {"error": "slow down"}, 0)])
    settings = RemoteSettings(base_url=url, model="m", max_retries=2, backoff_s=0.1)
    request = GenerationRequest(messages=[{"role": "user", "content": "hi"}], json_schema=None, max_tokens=8)
    generation = _run(_with_engine(settings, lambda engine: engine.generate(request)))
    assert generation.text == "Hello there!" and generation.completion_tokens == 7
    assert len(script.bodies) == 3
    gaps = [later - earlier for earlier, later in zip(script.times, script.times[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # 0.1 s then 0.2 s, each with jitter in [0.5, 1.5)


def test_gives_up_after_max_retries_and_says_why(fake_server):
    url, script = fake_server([(503, {"error": "busy"}, 0)] * 5)
    settings = RemoteSettings(base_url=url, model="m", max_retries=1, backoff_s=0.01)
    request = GenerationRequest(messages=[{"role": "user", "content": "hi"}], json_schema=None, max_tokens=8)
    with pytest.raises(EngineError, match="failed after 2 attempts: HTTP 503"):
        _run(_with_engine(settings, lambda engine: engine.generate(request)))
    assert len(script.bodies) == 2


def test_client_errors_are_not_retried(fake_server):
    url, script = fake_server([(400, {"error": {"message": "bad model"}}, 0)])
    settings = RemoteSettings(base_url=url, model="m", max_retries=3)
    request = GenerationRequest(messages=[{"role": "user", "content": "hi"}], json_schema=None, max_tokens=8)
    with pytest.raises(EngineError, match="refused the request \\(HTTP 400\\)"):
        _run(_with_engine(settings, lambda engine: engine.generate(request)))
    assert len(script.bodies) == 1


def test_timeout_per_attempt(fake_server):
    url, script = fake_server([(200, None, 1.5), (200, None, 1.5)])
    settings = RemoteSettings(base_url=url, model="m", timeout_s=0.3, max_retries=1, backoff_s=0.01)
    request = GenerationRequest(messages=[{"role": "user", "content": "hi"}], json_schema=None, max_tokens=8)
    started = time.monotonic()
    with pytest.raises(EngineError, match="ReadTimeout"):
        _run(_with_engine(settings, lambda engine: engine.generate(request)))
    assert time.monotonic() - started < 1.4


def test_unreachable_server_is_a_clear_engine_error():
    settings = RemoteSettings(base_url=f"http://127.0.0.1:{free_port()}/v1", model="m", max_retries=0)
    request = GenerationRequest(messages=[{"role": "user", "content": "hi"}], json_schema=None, max_tokens=8)
    with pytest.raises(EngineError, match="failed after 1 attempts: ConnectError"):
        _run(_with_engine(settings, lambda engine: engine.generate(request)))


# --- the request body, per dialect ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("constraint", "where"),
    [
        ("response_format", lambda b: b["response_format"]["json_schema"]["schema"]),
        ("structured_outputs", lambda b: b["structured_outputs"]["json"]),
        ("json_object", lambda b: b["response_format"]["schema"]),
    ],
)
def test_schema_dialects(constraint, where):
    settings = RemoteSettings(
        base_url="http://x/v1", model="base", constraint=constraint, adapters=["router"]
    )
    schema = canary_schema("v")
    body = to_request_body(
        GenerationRequest([{"role": "user", "content": "q"}], schema, 9, adapter="router"), settings
    )
    assert where(body) == schema and body["model"] == "router" and body["max_tokens"] == 9
    plain = to_request_body(GenerationRequest([{"role": "user", "content": "q"}], None, 9), settings)
    assert plain["model"] == "base" and "response_format" not in plain and "structured_outputs" not in plain


def test_unknown_adapter_and_bad_settings_are_named():
    settings = RemoteSettings(base_url="http://x/v1", model="base")
    with pytest.raises(ValueError, match="adapter 'nope' is not served; served adapters: none"):
        to_request_body(GenerationRequest([], None, 9, adapter="nope"), settings)
    with pytest.raises(ValueError, match="ROUTER_REMOTE_BASE_URL"):
        load_remote_settings(base_url="not a url", model="m")
