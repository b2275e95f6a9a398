"""The serving object on `app.state.service`: settings, metrics, the engine and its readiness."""

from __future__ import annotations

import logging
import time
from functools import partial

import anyio

from service.admission import Admission
from service.engines import Engine, create_engine
from service.errors import EngineNotReady
from service.metrics import Metrics
from service.routing import Router
from service.settings import Settings
from service.supervisor import EngineSupervisor

log = logging.getLogger(__name__)


class ServiceState:
    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.engine: Engine | None = engine
        self.router: Router | None = None
        self.ready = False
        self.load_error: str | None = None
        self.load_seconds: float | None = None
        # Every engine call goes through admission control (see service.supervisor).
        self.admission = Admission(
            max_concurrent=settings.max_concurrent_requests,
            max_queued=settings.max_queued_requests,
            max_wait_seconds=settings.max_queue_wait_seconds,
            registry=self.metrics.registry,
        )
        self.engine_factory = partial(create_engine, settings)
        """Builds an engine; the watchdog calls it again to replace a broken one."""

    async def start(self) -> None:
        """Load the engine (unless one was passed in), warm it up, then turn ready."""
        started = time.perf_counter()
        try:
            if self.engine is None:
                self.engine = await anyio.to_thread.run_sync(self.engine_factory)
            await self.engine.warm_up()
            self.engine = self._supervise(self.engine)
            router = Router.from_settings(self.engine, self.settings, metrics=self.metrics)
            if router.prior is not None:
                await anyio.to_thread.run_sync(router.prior.warm_up)  # MiniLM: about a second, once
        except Exception as error:  # noqa: BLE001 - any load failure must surface in /ready, not kill the loop
            log.exception("engine or decision prior failed to load")
            self.load_error = f"{type(error).__name__}: {error}"
            return
        self.router = router
        self.load_seconds = time.perf_counter() - started
        self.ready = True
        self.metrics.ready.set(1)
        log.info("ready in %.2fs", self.load_seconds)

    def _supervise(self, engine: Engine) -> EngineSupervisor:
        if isinstance(engine, EngineSupervisor):  # start() ran twice (two lifespans): wrap once
            return engine
        s = self.settings
        return EngineSupervisor(
            engine,
            admission=self.admission,
            factory=self.engine_factory,
            on_health=self.set_health,
            default_timeout=s.request_timeout_seconds,
            max_timeout=s.max_request_timeout_seconds,
            hang_seconds=s.engine_hang_seconds,
            failure_threshold=s.engine_failure_threshold,
            registry=self.metrics.registry,
        )

    def set_health(self, ready: bool, problem: str | None) -> None:
        """Readiness after start-up: false while the engine is reloaded, or while shutting down."""
        self.ready = ready
        self.load_error = problem
        self.metrics.ready.set(int(ready))

    async def stop(self) -> None:
        self.ready = False
        self.metrics.ready.set(0)
        if self.engine is not None:
            await self.engine.close()
        if self.router is not None and self.router.prior is not None:
            self.router.prior.close()

    def require_router(self) -> Router:
        if self.router is None:
            reason = f"the model failed to load: {self.load_error}" if self.load_error else "the model is loading"
            raise EngineNotReady(reason)
        return self.router

    def readiness(self) -> dict:
        details: dict = {"ready": self.ready}
        if self.engine is not None:
            details.update(engine=self.engine.name, model=self.engine.model_name, adapter=self.engine.adapter_name)
        if self.load_error:
            details["error"] = self.load_error
        if self.load_seconds is not None:
            details["load_seconds"] = round(self.load_seconds, 3)
        return details
