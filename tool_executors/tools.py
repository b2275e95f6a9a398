"""`Tools`: the four executors behind one `execute(tool_use)` call, configured once per process.

This is the serving object the HTTP layer keeps on `app.state` and the CLI builds per command. Every
failure comes back as a result with `ok=False`; nothing a request can trigger escapes as an exception.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from contract import (
    AskHumanCall,
    CodebaseSearchCall,
    FileManagerCall,
    SandboxExecCall,
    ToolUse,
)
from tool_executors.ask_human import QuestionStore, run_ask_human
from tool_executors.codebase_search import CodebaseSearch
from tool_executors.file_manager import FileLimits, run_file_manager
from tool_executors.results import ToolResult
from tool_executors.sandbox_exec import Sandbox
from tool_executors.workspace import Workspace

log = logging.getLogger(__name__)
TOOL_USE_ADAPTER: TypeAdapter[Any] = TypeAdapter(ToolUse)


def _state_dir() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "agent-router"


@dataclass
class ToolsConfig:
    workspace: Path = field(default_factory=lambda: Path(os.environ.get("ROUTER_WORKSPACE") or "."))
    """The only tree file_manager and codebase_search may touch (ROUTER_WORKSPACE)."""
    index_path: Path | None = None
    """The search index file; None puts it under ROUTER_INDEX_DIR or ~/.cache/agent-router/index."""
    questions_db: Path = field(default_factory=lambda: Path(
        os.environ.get("ROUTER_QUESTIONS_DB") or _state_dir() / "questions.sqlite"))
    webhook_url: str | None = field(default_factory=lambda: os.environ.get("ROUTER_QUESTIONS_WEBHOOK") or None)
    """POSTed a JSON event when a question is created (ROUTER_QUESTIONS_WEBHOOK)."""
    ask_wait_seconds: float = 0.0
    """How long ask_human waits for an answer before returning the question as pending."""
    sandbox_python: str | None = field(default_factory=lambda: os.environ.get("ROUTER_SANDBOX_PYTHON") or None)
    sandbox_uid: int = field(default_factory=lambda: int(os.environ.get("ROUTER_SANDBOX_UID") or 65534))
    file_limits: FileLimits = field(default_factory=FileLimits)
    use_ripgrep: bool = True


class Tools:
    def __init__(self, config: ToolsConfig | None = None):
        self.config = config or ToolsConfig()
        self.workspace = Workspace(self.config.workspace)

    @cached_property
    def search(self) -> CodebaseSearch:
        return CodebaseSearch(self.workspace, self.config.index_path, use_ripgrep=self.config.use_ripgrep)

    @cached_property
    def sandbox(self) -> Sandbox:
        return Sandbox(uid=self.config.sandbox_uid, interpreter=self.config.sandbox_python)

    @cached_property
    def questions(self) -> QuestionStore:
        return QuestionStore(self.config.questions_db, webhook_url=self.config.webhook_url)

    def execute(self, tool_use: Any) -> ToolResult:
        """Run one `tool_use` (a contract call object or its JSON-like dict) and return its result."""
        try:
            call = tool_use if not isinstance(tool_use, dict) else TOOL_USE_ADAPTER.validate_python(tool_use)
        except ValidationError as exc:
            name = tool_use.get("tool_name") if isinstance(tool_use, dict) else None
            return ToolResult(tool_name=str(name or "unknown"), ok=False,
                              error=f"invalid tool_use: {_first_error(exc)}")
        try:
            if isinstance(call, CodebaseSearchCall):
                return self.search.run(call.arguments)
            if isinstance(call, FileManagerCall):
                return run_file_manager(call.arguments, self.workspace, self.config.file_limits)
            if isinstance(call, SandboxExecCall):
                return self.sandbox.run(call.arguments)
            if isinstance(call, AskHumanCall):
                return run_ask_human(call.arguments, self.questions, self.config.ask_wait_seconds)
        except Exception as exc:  # a bug in an executor: still a value, and logged with its traceback
            log.exception("tool %s failed", getattr(call, "tool_name", "?"))
            return ToolResult(tool_name=call.tool_name, ok=False, error=f"internal error: {type(exc).__name__}: {exc}")
        return ToolResult(tool_name="unknown", ok=False, error=f"unsupported tool_use {type(call).__name__}")

    def status(self) -> dict[str, Any]:
        """For `/ready`: the workspace and the sandbox's isolation level (with its warning when weak)."""
        return {"workspace": str(self.workspace.root), "sandbox": self.sandbox.status()}


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "string_pattern_mismatch" and err["loc"][-1] == "path":
        return (f"{where}: {err['input']!r} is not a relative workspace path "
                "(no leading '/' or '~', no '.' or '..' segments)")
    return f"{where}: {err['msg']}" if where else err["msg"]
