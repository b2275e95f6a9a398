"""The engine as the service sees it: every call admitted, given a deadline and watched for faults.

`EngineSupervisor` wraps the loaded engine behind the same `Engine` interface, so every caller (the
router, the chat endpoints, anything added later) goes through it:

- admission: a slot from `service.admission` (bounded concurrency, bounded queue, 429/503);
- deadline: the request's own (`X-Request-Timeout`, a `timeout` field), else the server default, never
  past the server maximum; the engine abandons the request at it (504);
- faults: an engine that raises something other than a request-level error answers 503; after
  `engine_failure_threshold` such failures in a row, or one request left unanswered `engine_hang_seconds`
  past its deadline (a hang), the engine is declared broken: /ready turns false, requests get 503, and
  a watchdog task rebuilds the engine (with backoff) and swaps it in, without a restart.

What it cannot do: stop a hung native call. The hung thread and its model are abandoned (leaked), not
killed; `router serve` still exits at SIGTERM because it does not wait for abandoned threads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

from prometheus_client import CollectorRegistry, Counter

from service.admission import Admission, Ticket
from service.engines import DeadlineExceeded, Engine, EngineError, Generation, GenerationRequest
from service.errors import Rejection
from service.limits import request_deadline

log = logging.getLogger(__name__)

REQUEST_ERRORS = (DeadlineExceeded, EngineError, ValueError)
"""Failures of one request (bad input, invalid output, deadline), not of the engine: no reload."""
MAX_RELOAD_BACKOFF = 30.0
CLOSE_TIMEOUT = 10.0


class EngineSupervisor(Engine):
    def __init__(
        self,
        engine: Engine,
        *,
        admission: Admission,
        factory: Callable[[], Engine],
        on_health: Callable[[bool, str | None], None],
        default_timeout: float,
        max_timeout: float,
        hang_seconds: float,
        failure_threshold: int,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._engine = engine
        self.admission = admission
        self._factory = factory
        self._on_health = on_health
        self.default_timeout = default_timeout
        self.max_timeout = max_timeout
        self.hang_seconds = hang_seconds
        self.failure_threshold = failure_threshold
        self.healthy = True
        self.problem: str | None = None
        self._failures = 0
        self._hung: set[int] = set()
        self._watchdog: asyncio.Task | None = None
        registry = registry or CollectorRegistry()
        self.faults = Counter(
            "router_engine_faults_total", "Engine faults, by kind (error, hang).", ["kind"], registry=registry
        )
        self.reloads = Counter(
            "router_engine_reloads_total",
            "Engine reload attempts, by outcome.",
            ["outcome"],
            registry=registry,
        )

    # --- the wrapped engine's identity ----------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The engine serving right now (it changes after a reload)."""
        return self._engine

    @property
    def name(self) -> str:  # type: ignore[override]
        return self._engine.name

    @property
    def model_name(self) -> str:  # type: ignore[override]
        return self._engine.model_name

    @property
    def adapter_name(self) -> str | None:  # type: ignore[override]
        return self._engine.adapter_name

    def adapters(self) -> dict[str, str]:
        return self._engine.adapters()

    def __getattr__(self, attribute: str):
        # Engine-specific extras (tokenize_prompt, render, ...) pass straight through.
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        return getattr(self._engine, attribute)

    async def warm_up(self) -> None:
        await self._engine.warm_up()

    # --- serving --------------------------------------------------------------------------------

    def with_deadline(self, request: GenerationRequest) -> GenerationRequest:
        """The request with its deadline: its own, else the HTTP request's, else the default; capped."""
        now = time.monotonic()
        deadline = request.deadline or request_deadline.get() or now + self.default_timeout
        return replace(request, deadline=min(deadline, now + self.max_timeout))

    async def generate(self, request: GenerationRequest) -> Generation:
        asked = self._asked_for_deadline(request)
        try:
            engine, request, ticket = await self._admit(request)
            task = asyncio.ensure_future(engine.generate(request))
            return await self._watch(task, engine, request.deadline, ticket, release_when_done=True)
        except DeadlineExceeded as error:
            raise self._timed_out(error, asked) from None

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | Generation]:
        asked = self._asked_for_deadline(request)
        try:
            engine, request, ticket = await self._admit(request)
        except DeadlineExceeded as error:
            raise self._timed_out(error, asked) from None
        pieces = engine.stream(request).__aiter__()
        task = None
        try:
            while True:
                task = asyncio.ensure_future(pieces.__anext__())
                try:
                    piece = await self._watch(task, engine, request.deadline, ticket, release_when_done=False)
                except StopAsyncIteration:
                    return
                except DeadlineExceeded as error:
                    raise self._timed_out(error, asked) from None
                yield piece
        finally:
            ticket.release()
            if task is not None and not task.done():
                task.cancel()  # the client left mid-step: the engine's stream sees the cancel and stops
            if id(engine) not in self._hung:
                try:
                    await pieces.aclose()
                except RuntimeError:  # a step is still running in the engine (the client left mid-step)
                    pass

    @staticmethod
    def _asked_for_deadline(request: GenerationRequest) -> bool:
        return request.deadline is not None or request_deadline.get() is not None

    def _timed_out(self, error: DeadlineExceeded, asked: bool) -> Exception:
        """A deadline the client asked for is a 504; the server's own default running out is overload: 503."""
        if asked:
            return error
        return Rejection(
            503,
            f"the request did not finish within the server's default timeout of {self.default_timeout:g}s "
            f"(ROUTER_REQUEST_TIMEOUT_SECONDS; {error}): the server is overloaded or the request is long; retry "
            "later, or ask for more time with the X-Request-Timeout header",
            "service_unavailable",
            code="server_timeout",
            retry_after=self.admission.estimated_wait(),
        )

    async def _admit(self, request: GenerationRequest) -> tuple[Engine, GenerationRequest, Ticket]:
        self._check_healthy()
        request = self.with_deadline(request)
        ticket = await self.admission.acquire(request.deadline)
        if not self.healthy:  # broke while this request waited
            ticket.release()
            self._check_healthy()
        return self._engine, request, ticket

    def _check_healthy(self) -> None:
        if not self.healthy:
            self.admission.metrics.rejections.labels(reason="engine_unavailable").inc()
            raise Rejection(
                503,
                f"the engine is unavailable and is being reloaded ({self.problem}); retry shortly",
                "service_unavailable",
                code="engine_unavailable",
                retry_after=5,
            )

    async def _watch(
        self,
        task: asyncio.Future,
        engine: Engine,
        deadline: float,
        ticket: Ticket,
        *,
        release_when_done: bool,
    ):
        """Await one engine step; classify how it ended; the slot is released when the engine is done."""
        if release_when_done:
            task.add_done_callback(lambda _: ticket.release())
        task.add_done_callback(_retrieve)
        timeout = max(0.0, deadline - time.monotonic()) + self.hang_seconds
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            ticket.release()  # the hung call keeps its thread, not its slot
            problem = f"no answer {self.hang_seconds:g}s after the request's deadline (hung)"
            self._broken(engine, problem, "hang")
            self.admission.metrics.rejections.labels(reason="engine_unavailable").inc()
            raise Rejection(
                503,
                f"the engine hung: {problem}; it is being reloaded, retry shortly",
                "service_unavailable",
                code="engine_hung",
                retry_after=5,
            )
        error = task.exception()
        if error is None:
            if engine is self._engine:
                self._failures = 0
            return task.result()
        if isinstance(error, (*REQUEST_ERRORS, StopAsyncIteration)):
            raise error
        log.error("engine failure: %s: %s", type(error).__name__, error, exc_info=error)
        self.faults.labels(kind="error").inc()
        if engine is self._engine:
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._broken(
                    engine,
                    f"{self._failures} failures in a row, the last {type(error).__name__}: {error}",
                    None,
                )
        raise Rejection(
            503,
            f"the engine failed on this request ({type(error).__name__}: {error}); retry shortly",
            "service_unavailable",
            code="engine_failure",
            retry_after=1,
        )

    # --- faults and recovery --------------------------------------------------------------------

    def _broken(self, engine: Engine, problem: str, fault: str | None) -> None:
        if fault:
            self.faults.labels(kind=fault).inc()
        if fault == "hang":
            self._hung.add(id(engine))
        if engine is not self._engine or not self.healthy:
            return  # an engine already replaced, or already being replaced
        log.error("engine declared broken: %s; reloading", problem)
        self.healthy = False
        self.problem = problem
        self._on_health(False, f"engine broken, reloading: {problem}")
        self._watchdog = asyncio.ensure_future(self._reload(engine))

    async def _reload(self, broken: Engine) -> None:
        """Build, warm and swap in a fresh engine, retrying with backoff until one works."""
        if id(broken) not in self._hung:
            await _close_quietly(broken)
        delay = 1.0
        while True:
            started = time.monotonic()
            try:
                fresh = await asyncio.to_thread(self._factory)
                await fresh.warm_up()
            except Exception as error:  # noqa: BLE001 - keep trying; the reason is logged and in /ready
                self.reloads.labels(outcome="failed").inc()
                self.problem = f"reload failed ({type(error).__name__}: {error}); retrying in {delay:g}s"
                self._on_health(False, self.problem)
                log.exception("engine reload failed; retrying in %.0fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RELOAD_BACKOFF)
                continue
            self._engine = fresh
            self._failures = 0
            self.healthy = True
            self.problem = None
            self.reloads.labels(outcome="ok").inc()
            self._on_health(True, None)
            log.warning("engine reloaded in %.1fs; serving again", time.monotonic() - started)
            return

    async def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        if id(self._engine) not in self._hung:
            await _close_quietly(self._engine)


def _retrieve(task: asyncio.Future) -> None:
    """Mark an abandoned task's exception as seen, so asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


async def _close_quietly(engine: Engine) -> None:
    closing = asyncio.ensure_future(engine.close())
    done, _ = await asyncio.wait({closing}, timeout=CLOSE_TIMEOUT)
    if not done:
        log.warning("engine did not close within %.0fs; abandoning it", CLOSE_TIMEOUT)
    elif closing.exception() is not None:
        log.warning("engine close failed: %s", closing.exception())
