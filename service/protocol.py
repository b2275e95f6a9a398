"""Request and response models of the HTTP API. Validation lives here; routes stay thin."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from contract import ToolUse

MAX_QUERY_CHARS = 8000


class RouteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Not blank: the pattern lives in the OpenAPI schema, so what the docs promise is what is checked.
    query: Annotated[StrictStr, Field(min_length=1, max_length=MAX_QUERY_CHARS, pattern=r"\S")] = Field(
        description="The user's request, in natural language (at least one non-space character)."
    )
    context: Annotated[StrictStr, Field(max_length=MAX_QUERY_CHARS)] | None = Field(
        default=None, description="Optional extra context (e.g. the file being edited)."
    )
    reasoning: StrictBool = Field(
        default=True, description="Emit a one-line `thought`; false is faster and leaves it out."
    )
    execute: StrictBool = Field(
        default=False,
        description="Run the decided tool (ROUTER_TOOLS_ENABLED=true; policy in service.tools_policy) and "
        "return its result as `observation`.",
    )
    timeout: float | None = Field(
        default=None,
        gt=0,
        description="Seconds this request may take (at most ROUTER_MAX_REQUEST_TIMEOUT_SECONDS); past it, 504. "
        "The X-Request-Timeout header does the same on every endpoint.",
    )


class RouteMeta(BaseModel):
    model: str
    adapter: str | None
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    forced_tokens: int
    confidence: dict[str, float] = Field(
        default_factory=dict,
        description="The model's probability for each choice it made (status, tool_name, mode, operation).",
    )
    low_confidence: bool = Field(
        default=False, description="The choice fell below ROUTER_CONFIDENCE_THRESHOLD and became ask_human."
    )
    destructive: bool = Field(
        default=False,
        description="The request reads as destructive; the model's tool call became ask_human (ROUTER_DESTRUCTIVE_GUARD).",
    )
    unnamed_path: bool = Field(
        default=False,
        description="The model sent file_manager to a path the request never names; the call became "
        "ask_human (ROUTER_PATH_GUARD).",
    )
    repaired_path: bool = Field(
        default=False,
        description="The model's file_manager path was a slip on a path the request names (a dropped or doubled "
        "character) or a piece of one (its first or last folders); the named path replaced it (ROUTER_PATH_GUARD).",
    )
    operation_from_path: bool = Field(
        default=False,
        description="The model listed a file (a name with a file extension) or read a folder (a path ending in "
        "`/`); the operation the path's shape calls for replaced it (ROUTER_PATH_GUARD).",
    )
    unnamed_scope: bool = Field(
        default=False,
        description="The model scoped codebase_search to files (file_pattern) the request never points at; the "
        "pattern was dropped and the mode set from the query (ROUTER_SCOPE_GUARD).",
    )
    mode_from_rule: bool = Field(
        default=False,
        description="The model's mode for an unscoped codebase_search differed from the contract's query-shape "
        "rule; the rule's mode replaced it (ROUTER_MODE_RULE).",
    )
    repaired_copy: bool = Field(
        default=False,
        description="The model's write content or patch strings were a slip of text the request holds (a dropped "
        "line, an extra character); the request's text replaced them (ROUTER_COPY_REPAIR).",
    )
    unseen_context: bool = Field(
        default=False,
        description="The request points at context the router cannot see (\"the change we discussed\"); the model's "
        "search, program or answer became ask_human (ROUTER_UNSEEN_CONTEXT_GUARD).",
    )
    question_cue: str | None = Field(
        default=None,
        description="The question cue that ruled choices out before the model decoded: general (answer directly), "
        "location (no program) or removal (a patch) (ROUTER_QUESTION_CUES).",
    )
    truncated: bool = Field(
        description="The token budget ran out and the decision was closed early: valid, maybe cut short."
    )


class RouteResponse(BaseModel):
    """The decision's fields at the top level, plus `meta`. Absent fields are left out."""

    status: str = Field(description="running (call a tool) or complete (answer directly)")
    thought: str | None = None
    tool_use: ToolUse | None = None
    final_answer: str | None = None
    observation: dict[str, Any] | None = Field(
        default=None, description="The tool's result, when the request asked for execute=true."
    )
    meta: RouteMeta


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """Every error, on every endpoint, in OpenAI's error shape."""

    error: ErrorDetail


def error_responses(descriptions: dict[int, str]) -> dict[int, dict]:
    """OpenAPI `responses` for a route: each status code documented with the shared error body."""
    return {code: {"model": ErrorResponse, "description": text} for code, text in descriptions.items()}
