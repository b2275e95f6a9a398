"""Hand-written fakes for issue 8's tests: an engine that answers, fails or hangs on command.

`RecordingEngine` keeps every request it is handed. `FakeEngine` runs its "decoding" in a worker thread like the llama.cpp engine, in 10 ms steps, checking
the request's deadline at each step as the real engine does. `FaultyEngine` wraps any engine (the real
one included) and injects failures or hangs into its next calls.
"""

from __future__ import annotations

import asyncio
import threading
import time

import anyio
import httpx

from service.engines import DeadlineExceeded, Engine, Generation, GenerationRequest

COMPLETE = '{"status":"complete","final_answer":"4"}'
STEP = 0.01


class FakeEngine(Engine):
    name = "fake"
    model_name = "fake-model"

    def __init__(self, delay: float = 0.02, text: str = COMPLETE) -> None:
        self.delay = delay
        self.text = text
        self.calls = 0
        self.active = 0
        self.peak = 0
        self.closed = False
        self.warmed = False
        self._lock = threading.Lock()

    async def generate(self, request: GenerationRequest) -> Generation:
        return await anyio.to_thread.run_sync(self._run, request)

    async def warm_up(self) -> None:
        self.warmed = True

    async def close(self) -> None:
        self.closed = True

    def _run(self, request: GenerationRequest) -> Generation:
        with self._lock:
            self.calls += 1
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            finish = time.monotonic() + self.delay
            while time.monotonic() < finish:
                if request.deadline is not None and time.monotonic() > request.deadline:
                    raise DeadlineExceeded("deadline passed (fake engine)")
                time.sleep(STEP)
            return Generation(text=self.text, prompt_tokens=10, completion_tokens=5, finish_reason="stop")
        finally:
            with self._lock:
                self.active -= 1


class RecordingEngine:
    """An engine that records each request and answers with one fixed decision."""

    name, model_name, adapter_name = "recorder", "recorder", None

    def __init__(self) -> None:
        self.requests: list[GenerationRequest] = []

    async def generate(self, request: GenerationRequest) -> Generation:
        self.requests.append(request)
        return Generation('{"status":"complete","final_answer":"ok"}', 1, 1, "stop")


class FaultyEngine(Engine):
    """Passes calls to `inner`, except that the next `fail` calls raise and the next `hang` calls block."""

    def __init__(self, inner: Engine, *, fail: int = 0, hang: int = 0) -> None:
        self.inner = inner
        self.fail = fail
        self.hang = hang
        self.unblock = threading.Event()  # set it to let hung calls end (tests must, or threads linger)
        self.name = inner.name
        self.model_name = inner.model_name

    async def generate(self, request: GenerationRequest) -> Generation:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("llama_decode returned -3 (injected fault)")
        if self.hang:
            self.hang -= 1
            await anyio.to_thread.run_sync(self.unblock.wait)  # like a native call that never returns
        return await self.inner.generate(request)

    async def warm_up(self) -> None:
        await self.inner.warm_up()

    async def close(self) -> None:
        await self.inner.close()


async def started(app) -> httpx.AsyncClient:
    """Start the app's service (what the lifespan does) and return a client speaking ASGI to it."""
    await app.state.service.start()
    assert app.state.service.ready, app.state.service.readiness()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://router")


async def wait_until(predicate, timeout: float = 10.0) -> None:
    finish = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > finish:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)
