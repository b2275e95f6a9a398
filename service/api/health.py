"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.state import ServiceState
from service.tools_api import tools_readiness

router = APIRouter()


@router.get("/health")
async def health() -> dict:
    """The process is up and serving HTTP (it may still be loading the model)."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "The model is loading or failed to load."}})
async def ready(request: Request) -> JSONResponse:
    """The model is loaded and warmed up: traffic may be sent."""
    state: ServiceState = request.app.state.service
    details = state.readiness()
    tools = tools_readiness(request.app)
    if tools is not None:  # the sandbox's isolation level, with a loud warning when bwrap is missing
        details["tools"] = tools
    return JSONResponse(details, status_code=200 if state.ready else 503)


@router.get("/metrics", response_class=PlainTextResponse, responses={200: {"description": "Prometheus text format."}})
async def metrics(request: Request) -> Response:
    state: ServiceState = request.app.state.service
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
