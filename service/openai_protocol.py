"""Request and response models of the OpenAI-compatible API (`/v1/chat/completions`, `/v1/models`).

Validation lives here. Unknown parameters are refused (`extra="forbid"`), and parameters we know but
cannot honour (`n > 1`, `logprobs`, penalties, `stop`, ...) are refused with a message naming them:
a client never gets an answer that silently ignored what it asked for.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError


def router_tools() -> list[dict[str, Any]]:
    """Our four tools as OpenAI tool definitions (`tools=router_tools()` selects the router's grammar)."""
    from contract import TOOLS

    return [
        {"type": "function", "function": {"name": name, "description": spec.description,
                                          "parameters": spec.parameters_schema()}}
        for name, spec in TOOLS.items()
    ]


class ChatRequestError(ValueError):
    """A chat request we cannot serve; leaves as an OpenAI error body with this status and param."""

    def __init__(
        self, message: str, *, param: str | None = None, status: int = 400, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message, self.param, self.status, self.code = message, param, status, code
        self.type = "invalid_request_error"


def _unsupported(name: str, value: Any, hint: str) -> PydanticCustomError:
    return PydanticCustomError(
        "unsupported_parameter",
        "{name}={value} is not supported: {hint}",
        {"name": name, "value": value, "hint": hint},
    )


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- messages -----------------------------------------------------------------------------------


class TextPart(_Model):
    type: Literal["text"]
    text: str


def _text_only(value: Any) -> Any:
    """Content parts other than text (images, audio, files) are refused by name."""
    if isinstance(value, list):
        for index, part in enumerate(value):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind != "text":
                raise PydanticCustomError(
                    "unsupported_content",
                    "content part {index} has type '{kind}': only text parts are supported",
                    {"index": index, "kind": kind},
                )
    return value


Content = str | list[TextPart]


class FunctionCall(_Model):
    name: str
    arguments: str


class ToolCall(_Model):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(_Model):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Content | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    refusal: str | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _text_parts(cls, value: Any) -> Any:
        return _text_only(value)

    @model_validator(mode="after")
    def _content_present(self) -> Message:
        if self.content is None and not (self.role == "assistant" and self.tool_calls):
            raise ValueError(f"a {self.role} message needs content")
        return self

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


# --- tools and formats --------------------------------------------------------------------------


class FunctionDefinition(_Model):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Model):
    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(_Model):
    name: str


class NamedToolChoice(_Model):
    type: Literal["function"]
    function: NamedFunction


ToolChoice = Literal["auto", "none", "required"] | NamedToolChoice


class JsonSchemaFormat(_Model):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TextFormat(_Model):
    type: Literal["text"]


class JsonObjectFormat(_Model):
    type: Literal["json_object"]


class JsonSchemaResponseFormat(_Model):
    type: Literal["json_schema"]
    json_schema: JsonSchemaFormat


ResponseFormat = Annotated[
    TextFormat | JsonObjectFormat | JsonSchemaResponseFormat, Field(discriminator="type")
]


class StreamOptions(_Model):
    include_usage: bool = False
    include_obfuscation: bool | None = None


# --- the request ----------------------------------------------------------------------------------


class ChatCompletionRequest(_Model):
    model: Annotated[str, Field(min_length=1)]
    messages: list[Message]
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    # Known parameters we accept only at the value that changes nothing; anything else is refused.
    n: int | None = None
    top_p: float | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    store: bool | None = None
    # Labels for the caller's bookkeeping; they change no output.
    user: str | None = None
    metadata: dict[str, str] | None = None
    service_tier: str | None = None

    @field_validator("messages")
    @classmethod
    def _has_messages(cls, value: list[Message]) -> list[Message]:
        if not value:
            raise PydanticCustomError("empty_messages", "messages must contain at least one message")
        if not any(message.role == "user" for message in value):
            raise PydanticCustomError("no_user_message", "messages must contain a user message (the request)")
        return value

    @model_validator(mode="after")
    def _refuse_unsupported(self) -> ChatCompletionRequest:
        refusals = {
            "n": (self.n not in (None, 1), "the router returns one choice; send n=1 or leave it out"),
            "top_p": (
                self.top_p not in (None, 1.0),
                "only temperature sampling is implemented; leave top_p out",
            ),
            "logprobs": (bool(self.logprobs), "log probabilities are not returned; leave logprobs out"),
            "top_logprobs": (self.top_logprobs not in (None, 0), "log probabilities are not returned"),
            "presence_penalty": (self.presence_penalty not in (None, 0), "penalties are not implemented"),
            "frequency_penalty": (self.frequency_penalty not in (None, 0), "penalties are not implemented"),
            "logit_bias": (
                bool(self.logit_bias),
                "logit bias is not implemented; constrain with tools or response_format",
            ),
            "stop": (bool(self.stop), "stop sequences are not implemented; constrain with response_format"),
            "seed": (
                self.seed is not None,
                "sampling uses the server's seed; use temperature=0 for determinism",
            ),
            "store": (bool(self.store), "completions are not stored"),
        }
        for name, (refused, hint) in refusals.items():
            if refused:
                raise _unsupported(name, getattr(self, name), hint)
        if self.max_tokens is not None and self.max_completion_tokens is not None:
            raise ValueError("send max_tokens or max_completion_tokens, not both")
        if self.stream_options is not None and not self.stream:
            raise ValueError("stream_options is only allowed with stream=true")
        return self

    @property
    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    @classmethod
    def parse(cls, body: bytes) -> ChatCompletionRequest:
        """Validate a raw body; every problem becomes a ChatRequestError naming its parameter."""
        try:
            return cls.model_validate_json(body)
        except ValidationError as error:
            problems = [_describe(item) for item in error.errors()]
            raise ChatRequestError("; ".join(m for m, _ in problems), param=problems[0][1]) from None


def _describe(item: dict) -> tuple[str, str | None]:
    """One validation problem as (message, param): ("messages.0.role: Input should be ...", "messages")."""
    loc = [str(part) for part in item.get("loc", ())]
    if item["type"] == "json_invalid":
        return f"request body is not valid JSON: {item.get('ctx', {}).get('error', item['msg'])}", None
    if item["type"] == "model_type" and not loc:
        return "request body must be a JSON object", None
    if item["type"] == "extra_forbidden":
        return f"unknown parameter {'.'.join(loc)!r} is not supported", loc[0]
    where = ".".join(loc)
    param = loc[0] if loc else item.get("ctx", {}).get("name")
    return (f"{where}: {item['msg']}" if where else item["msg"]), param


# --- responses ------------------------------------------------------------------------------------


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    reasoning_content: str | None = None
    """The router's one-line `thought` for a tool call (vLLM's name for reasoning text)."""


class Choice(BaseModel):
    index: int = 0
    message: ResponseMessage
    finish_reason: Literal["stop", "length", "tool_calls"]
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[Choice]
    usage: Usage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "agent-router"
    root: str
    parent: str | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
