"""The FastAPI app factory. Importing this module loads no model and imports no engine library."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service.api import health, openai, route
from service.chat import ChatService
from service.engines import Engine
from service.errors import install_error_handlers
from service.hardening import install_hardening
from service.middleware import BodySizeLimit, RequestMetrics
from service.settings import Settings, load_settings
from service.state import ServiceState
from service.tools_api import install_tools

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the app. The model loads in the background after start-up; /ready says when it is done.

    Pass `engine` to serve an engine built elsewhere (tests, embedding); otherwise the configured
    engine is built from `settings`.
    """
    settings = settings or load_settings()
    state = ServiceState(settings, engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loading = asyncio.create_task(state.start())
        try:
            yield
        finally:
            loading.cancel()
            await state.stop()

    app = FastAPI(
        title="agent-router",
        summary="Routes a coding agent's request to one tool call or a direct answer, as strict JSON.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.service = state
    app.state.chat = ChatService(state)
    install_error_handlers(app)
    app.include_router(route.router)
    app.include_router(health.router)
    app.include_router(openai.router)
    install_tools(app, settings, state.metrics.registry)  # /v1/tools, /v1/questions: off by default
    # Auth, request limits and deadlines for every path (service.hardening); inside the size cap.
    install_hardening(app, settings, state.metrics.registry)
    # The last added runs outermost: metrics see every response, the size cap's 413s included.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=state.metrics)
    return app
