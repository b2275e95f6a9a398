"""HTTP surface of the tool executors: /v1/tools/execute, /v1/questions, and `/route`'s execute step.

Mounted by `install_tools(app, settings, registry)` only when ROUTER_TOOLS_ENABLED=true; otherwise these
paths do not exist (404) and `/route` refuses `execute: true`. The executors block (a sandbox run takes
up to 30 s), so they run in worker threads.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from contract import ToolUse
from contract.decision import RunningDecision
from service import tools_policy
from service.tools_settings import ToolsSettings

router = APIRouter(tags=["tools"])


class ExecuteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool_use: ToolUse = Field(description='{"tool_name": ..., "arguments": {...}}, as in a decision.')


class AnswerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str = Field(min_length=1, max_length=4000)


class ToolsService:
    """What the routes use, kept on `app.state.tools`: the executors, the policy settings, metrics."""

    def __init__(self, settings: ToolsSettings, registry: CollectorRegistry):
        from tool_executors import Tools, ToolsConfig
        from tool_executors.codebase_search import default_index_path
        from tool_executors.workspace import Workspace

        config = ToolsConfig(workspace=settings.workspace, webhook_url=settings.questions_webhook,
                             sandbox_python=settings.sandbox_python, sandbox_uid=settings.sandbox_uid)
        if settings.index_dir:
            config.index_path = default_index_path(Workspace(settings.workspace).root, settings.index_dir)
        if settings.questions_db:
            config.questions_db = settings.questions_db
        self.tools = Tools(config)
        self.settings = settings
        self.executions = Counter("router_tool_executions_total", "Tool calls executed, by tool and outcome.",
                                  ["tool", "ok", "source"], registry=registry)
        self.overrides = Counter("router_tools_policy_overrides_total",
                                 "Decisions the execute policy changed or skipped, by reason.",
                                 ["reason"], registry=registry)

    async def execute(self, tool_use: Any, source: str) -> dict[str, Any]:
        result = await run_in_threadpool(self.tools.execute, tool_use)
        self.executions.labels(tool=result.tool_name, ok=str(result.ok).lower(), source=source).inc()
        return result.model_dump(mode="json")

    async def observe(self, query: str, decision: Any) -> dict[str, Any] | None:
        """`/route` with execute=true: run the decided tool if the policy lets it; None for a direct answer."""
        if not isinstance(decision, RunningDecision):
            return None
        verdict = tools_policy.decide(query, decision.tool_use, auto_run=list(self.settings.tools_auto_run),
                                      auto_write=self.settings.tools_auto_write)
        if verdict.code:
            self.overrides.labels(reason=verdict.code).inc()
        if verdict.action == "skip":
            return {"tool_name": decision.tool_use.tool_name, "ok": False, "skipped": True,
                    "output": "", "error": verdict.reason}
        observation = await self.execute(verdict.tool_use, source="route")
        if verdict.overridden:
            observation |= {"policy": verdict.reason,
                            "executed_tool_use": verdict.tool_use.model_dump(mode="json", exclude_none=True)}
        return observation


def _service(request: Request) -> ToolsService:
    return request.app.state.tools


@router.post("/v1/tools/execute")
async def execute(body: ExecuteRequest, request: Request) -> dict[str, Any]:
    """Run one tool call explicitly (writes included). Tool failures come back with ok=false, status 200."""
    return await _service(request).execute(body.tool_use, source="explicit")


@router.get("/v1/questions")
async def list_questions(
    request: Request,
    status: Literal["pending", "answered", "all"] = "pending",
    limit: int = Query(default=100, ge=1, le=1000),
) -> dict[str, Any]:
    store = _service(request).tools.questions
    items = await run_in_threadpool(store.list, None if status == "all" else status, limit)
    return {"object": "list", "data": [q.model_dump() for q in items]}


@router.get("/v1/questions/{question_id}", responses={404: {"description": "No such question."}})
async def get_question(
    question_id: str, request: Request,
    wait: float = Query(default=0, ge=0, description="Long-poll: seconds to wait for an answer (capped)."),
) -> dict[str, Any]:
    from tool_executors.ask_human import QuestionError

    service = _service(request)
    store = service.tools.questions
    try:
        wait = min(wait, service.settings.questions_max_wait_seconds)
        record = await store.wait_for_answer_async(question_id, wait) if wait else \
            await run_in_threadpool(store.get, question_id)
    except QuestionError as exc:
        raise HTTPException(404, str(exc)) from None
    return record.model_dump()


@router.post("/v1/questions/{question_id}/answer",
             responses={404: {"description": "No such question."}, 409: {"description": "Already answered."}})
async def answer_question(question_id: str, body: AnswerRequest, request: Request) -> dict[str, Any]:
    from tool_executors.ask_human import QuestionError

    store = _service(request).tools.questions
    try:
        record = await run_in_threadpool(store.answer, question_id, body.answer)
    except QuestionError as exc:
        message = str(exc)
        raise HTTPException(404 if message.startswith("no question") else 409, message) from None
    return record.model_dump()


def install_tools(app: FastAPI, settings: ToolsSettings, registry: CollectorRegistry) -> None:
    """Mount the tool routes and put a ToolsService on app.state.tools, only when tools are enabled."""
    app.state.tools = None
    if not settings.tools_enabled:
        return
    app.state.tools = ToolsService(settings, registry)
    app.include_router(router)


async def route_observation(request: Request, query: str, decision: Any) -> dict[str, Any] | None:
    """For `/route` with execute=true; a 400 naming the setting when tools are off."""
    service: ToolsService | None = getattr(request.app.state, "tools", None)
    if service is None:
        raise HTTPException(400, "execute=true needs the tools enabled: set ROUTER_TOOLS_ENABLED=true")
    return await service.observe(query, decision)


def tools_readiness(app: FastAPI) -> dict[str, Any] | None:
    """For `/ready`: the workspace and the sandbox's isolation (with a loud warning when weak)."""
    service: ToolsService | None = getattr(app.state, "tools", None)
    return None if service is None else service.tools.status()
