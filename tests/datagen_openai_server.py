"""A tiny, real OpenAI-compatible HTTP server for the generator's tests (not a mock: real HTTP, real JSON).

It answers /v1/chat/completions with a tool call whose arguments are a batch of composed, valid
TrainingExamples, so instructor + litellm run end to end. Model "flaky" always fails with a 500 (to
exercise retries and the model roulette); model "slow" waits before answering (to kill a run mid-way);
model "broken" returns JSON that does not validate (to exercise instructor's re-ask and rejection).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from datagen.compose import draft_row


def build_app(delay_s: float = 0.3) -> FastAPI:
    app = FastAPI()
    counter = itertools.count()
    app.state.requests = []

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        model = body["model"]
        app.state.requests.append(model)
        if model == "flaky":
            return JSONResponse({"error": {"message": "upstream overloaded", "type": "server_error"}}, status_code=500)
        if model == "slow":
            await asyncio.sleep(delay_s)
        user = body["messages"][-1]["content"]
        n = int(re.search(r"Write (\d+) new", user).group(1)) if re.search(r"Write (\d+) new", user) else 1
        examples = []
        for _ in range(n):
            i = next(counter)
            row = draft_row(1234, ("search", "modify", "direct", "escalate")[i % 4], i)
            examples.append({"user_query": row["user_query"], "output": row["output"]})
        if model == "broken":
            examples = [{"user_query": "x", "output": {"status": "running"}}]
        name = body.get("tool_choice", {}).get("function", {}).get("name", "GeneratedBatch")
        import json

        return {
            "id": f"chatcmpl-{time.time_ns()}", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": None,
                "tool_calls": [{"id": "call_1", "type": "function",
                                "function": {"name": name, "arguments": json.dumps({"examples": examples})}}]}}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 80 * n, "total_tokens": 120 + 80 * n},
        }

    return app


class ServerThread:
    """uvicorn on a free loopback port, in a daemon thread."""

    def __init__(self, app: FastAPI):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
