"""POST /route: one request in, one decision out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.protocol import RouteMeta, RouteRequest, RouteResponse, error_responses
from service.state import ServiceState
from service.tools_api import route_observation

router = APIRouter()

_ERRORS = error_responses(
    {
        400: "The request cannot be served (e.g. longer than the context window).",
        413: "The body exceeds the size limit.",
        422: "The body is not valid JSON or does not match the request schema.",
        502: "The model failed to produce a valid decision.",
        503: "The model is not loaded yet.",
    }
)


@router.post("/route", response_model=RouteResponse, response_model_exclude_none=True, responses=_ERRORS)
async def route(body: RouteRequest, request: Request) -> JSONResponse:
    state: ServiceState = request.app.state.service
    result = await state.require_router().route(body.query, context=body.context, reasoning=body.reasoning)
    g = result.generation
    response = RouteResponse(
        **result.decision.model_dump(mode="json", exclude_none=True),
        meta=RouteMeta(
            model=state.engine.model_name,
            adapter=state.engine.adapter_name,
            latency_ms=round(result.latency_ms, 2),
            prompt_tokens=g.prompt_tokens,
            completion_tokens=g.completion_tokens,
            forced_tokens=g.forced_tokens,
            truncated=g.truncated,
            confidence={key: round(p, 4) for key, p in g.confidence.items()},
            question_cue=result.question_cue,
            **result.flags(),
        ),
    )
    if body.execute:
        response.observation = await route_observation(request, body.query, result.decision)
    # Absent decision fields are left out; meta is always whole (adapter is null without one).
    return JSONResponse(response.model_dump(mode="json", exclude_none=True) | {"meta": response.meta.model_dump()})
