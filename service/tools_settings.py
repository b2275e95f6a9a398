"""Settings of the tool executors' HTTP surface (issue 6), mixed into `service.settings.Settings`.

All of it is off unless ROUTER_TOOLS_ENABLED=true. Environment variables carry the ROUTER_ prefix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

ToolName = Literal["codebase_search", "file_manager", "sandbox_exec", "ask_human"]


class ToolsSettings(BaseSettings):
    tools_enabled: bool = Field(
        default=False,
        description="Serve /v1/tools/execute and /v1/questions, and let /route run tools with execute=true.",
    )
    workspace: Path = Field(default=Path("."), description="The directory tree the tools work in.")
    index_dir: Path | None = Field(default=None, description="Where the search index lives (default ~/.cache).")
    questions_db: Path | None = Field(
        default=None, description="SQLite file of ask_human questions (default ~/.local/state/agent-router)."
    )
    questions_webhook: str | None = Field(default=None, description="URL POSTed when a question is created.")
    questions_max_wait_seconds: float = Field(
        default=30.0, ge=0, le=300, description="Longest long-poll on GET /v1/questions/{id}?wait=."
    )
    sandbox_python: str | None = Field(default=None, description="Interpreter for sandbox_exec (default auto).")
    sandbox_uid: int = Field(default=65534, ge=1, description="Unprivileged uid sandbox_exec runs as.")
    tools_auto_run: list[ToolName] = Field(
        default=["codebase_search", "file_manager", "sandbox_exec", "ask_human"],
        description="Tools /route may run on its own with execute=true (JSON list).",
    )
    tools_auto_write: bool = Field(
        default=False, description="Let /route with execute=true run file_manager write and patch."
    )
