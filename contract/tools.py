"""The tool registry: what each tool is for and the model of its arguments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from contract.decision import AskHumanArgs, CodebaseSearchArgs, FileManagerArgs, SandboxExecArgs


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    arguments: Any
    """The pydantic model (or annotated union) that validates this tool's `arguments`."""

    @property
    def adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.arguments)

    def parameters_schema(self) -> dict[str, Any]:
        return self.adapter.json_schema()


TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            "codebase_search",
            "Find code in the repository: exact for symbols and literal strings, semantic for concepts, "
            "hybrid when mixed or scoped by a file pattern.",
            CodebaseSearchArgs,
        ),
        ToolSpec(
            "file_manager",
            "List, read, write or patch a file at a path the user gave, relative to the workspace.",
            FileManagerArgs,
        ),
        ToolSpec(
            "sandbox_exec",
            "Run a short Python program that prints its result: calculation, verification, experiments.",
            SandboxExecArgs,
        ),
        ToolSpec(
            "ask_human",
            "Ask the user when the request is ambiguous, lacks context, or is destructive or high-risk.",
            AskHumanArgs,
        ),
    )
}
