"""The decision schema: a discriminated union on `status`, whose tool call is a union on `tool_name`.

Every object forbids extra keys: without that, a grammar built from the schema lets the model invent
keys. Optional fields are left out when absent (never `null`), so the JSON schema of an optional field
does not admit `null` either (`SkipJsonSchema[None]`): nulls cost tokens, and tokens are latency.

The length limits on free-text fields are part of the contract on purpose: the grammar enforces them
while decoding, so a rambling model is forced to close its strings before it runs out of tokens.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

THOUGHT_MIN_WORDS = 6
THOUGHT_MAX_WORDS = 60
THOUGHT_MAX_WORD_CHARS = 60
# One line of 6 to 60 words separated by single spaces; the grammar enforces it while decoding. Word
# length is bounded instead of the whole string's: llguidance cannot intersect this pattern with a
# maxLength, and bounded words bound the thought anyway.
_WORD = rf"\S{{1,{THOUGHT_MAX_WORD_CHARS}}}"
THOUGHT_PATTERN = rf"^{_WORD}( {_WORD}){{{THOUGHT_MIN_WORDS - 1},{THOUGHT_MAX_WORDS - 1}}}$"

# A relative path inside the workspace: segments separated by "/", none of them "." or "..", no leading
# "/" or "~". Hidden names such as ".github" are fine. "." alone names the workspace root.
_SEGMENT = r"\.?[A-Za-z0-9_@+\-][A-Za-z0-9_@+.\-]*"
RELATIVE_PATH_PATTERN = rf"^(\.|{_SEGMENT}(/{_SEGMENT})*/?)$"
_RELATIVE_PATH = re.compile(RELATIVE_PATH_PATTERN)


class StrictModel(BaseModel):
    """Base for every contract object: unknown keys are an error, not a silent drop."""

    model_config = ConfigDict(extra="forbid")


def _one_line_thought(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("thought must be one line")
    words = value.split()
    if not THOUGHT_MIN_WORDS <= len(words) <= THOUGHT_MAX_WORDS:
        raise ValueError(
            f"thought must have {THOUGHT_MIN_WORDS} to {THOUGHT_MAX_WORDS} words, got {len(words)}"
        )
    return value


def _relative_path(value: str) -> str:
    if not _RELATIVE_PATH.match(value):
        raise ValueError(
            "path must be relative to the workspace: no leading '/' or '~', no '.' or '..' segments"
        )
    return value


Thought = Annotated[
    str,
    Field(pattern=THOUGHT_PATTERN, description="Why this tool, in one line."),
    AfterValidator(_one_line_thought),
]
RelativePath = Annotated[
    str,
    Field(min_length=1, max_length=256, pattern=RELATIVE_PATH_PATTERN),
    AfterValidator(_relative_path),
]


# --- tool arguments ---------------------------------------------------------------------------


class CodebaseSearchArgs(StrictModel):
    query: str = Field(min_length=1, max_length=300)
    mode: Literal["exact", "semantic", "hybrid"] = Field(
        default="hybrid",
        description="exact for symbols and literal strings, semantic for concepts, hybrid when mixed or scoped",
    )
    file_pattern: str | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=100)


class FileList(StrictModel):
    operation: Literal["list"]
    path: RelativePath


class FileRead(StrictModel):
    operation: Literal["read"]
    path: RelativePath


class FileWrite(StrictModel):
    operation: Literal["write"]
    path: RelativePath
    content: str = Field(max_length=4000)


class FilePatch(StrictModel):
    operation: Literal["patch"]
    path: RelativePath
    target_string: str = Field(min_length=1, max_length=2000)
    replacement_string: str = Field(max_length=2000, description="May be empty, to delete the target.")


FileManagerArgs = Annotated[
    Union[FileList, FileRead, FileWrite, FilePatch], Field(discriminator="operation")
]


class SandboxExecArgs(StrictModel):
    code: str = Field(min_length=1, max_length=2000, description="Python that prints its result.")
    timeout: int = Field(default=30, ge=1, le=30, description="Wall-clock limit in seconds.")


class AskHumanArgs(StrictModel):
    question: str = Field(min_length=1, max_length=400)
    context: str | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=600)


# --- tool calls -------------------------------------------------------------------------------


class CodebaseSearchCall(StrictModel):
    tool_name: Literal["codebase_search"]
    arguments: CodebaseSearchArgs


class FileManagerCall(StrictModel):
    tool_name: Literal["file_manager"]
    arguments: FileManagerArgs


class SandboxExecCall(StrictModel):
    tool_name: Literal["sandbox_exec"]
    arguments: SandboxExecArgs


class AskHumanCall(StrictModel):
    tool_name: Literal["ask_human"]
    arguments: AskHumanArgs


ToolUse = Annotated[
    Union[CodebaseSearchCall, FileManagerCall, SandboxExecCall, AskHumanCall],
    Field(discriminator="tool_name"),
]


# --- decisions --------------------------------------------------------------------------------


class RunningDecision(StrictModel):
    """Call a tool. `thought` is required, except in `reasoning=False` mode where it must be absent."""

    status: Literal["running"]
    thought: Thought | SkipJsonSchema[None] = None
    tool_use: ToolUse

    @model_validator(mode="after")
    def _thought_matches_mode(self, info: ValidationInfo) -> RunningDecision:
        reasoning = (info.context or {}).get("reasoning", True)
        if reasoning and self.thought is None:
            raise ValueError("thought is required when reasoning is on")
        if not reasoning and self.thought is not None:
            raise ValueError("thought must be absent when reasoning is off")
        return self


class CompleteDecision(StrictModel):
    """Answer directly, without a tool."""

    status: Literal["complete"]
    final_answer: str = Field(min_length=1, max_length=1200)


Decision = Annotated[Union[RunningDecision, CompleteDecision], Field(discriminator="status")]
DECISION_ADAPTER: TypeAdapter[RunningDecision | CompleteDecision] = TypeAdapter(Decision)


class TrainingExample(StrictModel):
    """One row of the training data: a request and the decision the router should make for it."""

    user_query: str = Field(min_length=1, max_length=8000)
    output: Decision


def validate_decision(data: Any, *, reasoning: bool = True) -> RunningDecision | CompleteDecision:
    """Validate a decoded Python object against the contract (raises pydantic.ValidationError)."""
    return DECISION_ADAPTER.validate_python(data, context={"reasoning": reasoning})


def parse_decision(text: str | bytes, *, reasoning: bool = True) -> RunningDecision | CompleteDecision:
    """Validate JSON text against the contract (raises pydantic.ValidationError)."""
    return DECISION_ADAPTER.validate_json(text, context={"reasoning": reasoning})


def dump_decision(decision: RunningDecision | CompleteDecision) -> str:
    """Compact JSON with absent fields left out: the exact form the model is trained to emit."""
    return json.dumps(
        decision.model_dump(mode="json", exclude_none=True), separators=(",", ":"), ensure_ascii=False
    )
