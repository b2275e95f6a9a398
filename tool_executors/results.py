"""Result objects of the four executors: failures are values (`ok=False`, `error=...`), never exceptions.

Every result carries `ok`, `output` (what an agent reads) and `error` (a message naming the problem and,
where it can, how to fix it); each tool adds its own fields. They are pydantic models so the HTTP layer
returns them as they are.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ToolResult(BaseModel):
    tool_name: str
    ok: bool
    output: str = ""
    error: str | None = None


class FileEntry(BaseModel):
    name: str
    kind: Literal["file", "dir", "symlink", "other"]
    size: int | None = None


class FileResult(ToolResult):
    tool_name: Literal["file_manager"] = "file_manager"
    operation: Literal["list", "read", "write", "patch"]
    path: str
    entries: list[FileEntry] | None = None
    """`list` only."""
    size: int | None = None
    """Bytes read (`read`) or written (`write`, `patch`)."""
    truncated: bool = False


class SandboxResult(ToolResult):
    tool_name: Literal["sandbox_exec"] = "sandbox_exec"
    exit_code: int | None = None
    """None when the program was killed (timeout, output cap)."""
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    truncated: bool = False
    """stdout or stderr went past the cap; the rest was dropped."""
    duration_ms: float = 0.0
    isolation: Literal["bwrap", "rlimits-only"] = "bwrap"
    isolation_warning: str | None = None
    """Set whenever isolation is weaker than the bubblewrap sandbox."""


class SearchHit(BaseModel):
    path: str
    start_line: int
    end_line: int
    snippet: str
    score: float


class SearchResult(ToolResult):
    tool_name: Literal["codebase_search"] = "codebase_search"
    mode: Literal["exact", "semantic", "hybrid"]
    hits: list[SearchHit] = Field(default_factory=list)
    engine: str = ""
    """What answered: "ripgrep", "python", "minilm", "bm25+minilm"."""
    match_kind: str | None = None
    """exact mode: "literal", "regex" or "literal-ignore-case" (the first that found something)."""


class QuestionResult(ToolResult):
    tool_name: Literal["ask_human"] = "ask_human"
    question_id: str | None = None
    status: Literal["pending", "answered"] | None = None
    answer: str | None = None
