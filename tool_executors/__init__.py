"""Executors for the four tools: codebase_search, file_manager, sandbox_exec, ask_human.

Each is a typed function of the contract's argument model returning a result object (`ok`, `output`,
`error`, plus its own fields); failures are values. `Tools` bundles them over one workspace. Heavy parts
(the MiniLM model, BM25) are imported only when semantic or hybrid search first runs.
"""

from tool_executors.results import FileResult, QuestionResult, SandboxResult, SearchHit, SearchResult, ToolResult
from tool_executors.tools import Tools, ToolsConfig
from tool_executors.workspace import Workspace, WorkspaceError

__all__ = [
    "FileResult",
    "QuestionResult",
    "SandboxResult",
    "SearchHit",
    "SearchResult",
    "ToolResult",
    "Tools",
    "ToolsConfig",
    "Workspace",
    "WorkspaceError",
]
