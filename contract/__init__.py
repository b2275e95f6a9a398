"""The contract every part of the router shares: the decision schema, the tool registry, the prompt.

This package imports nothing of ours and nothing heavy (no torch, llama_cpp or vllm), so the data
factory, the trainer, the service and the tool executors can all depend on it cheaply.
"""

from contract.decision import (
    AskHumanArgs,
    AskHumanCall,
    CodebaseSearchArgs,
    CodebaseSearchCall,
    CompleteDecision,
    Decision,
    FileList,
    FileManagerArgs,
    FileManagerCall,
    FilePatch,
    FileRead,
    FileWrite,
    RunningDecision,
    SandboxExecArgs,
    SandboxExecCall,
    ToolUse,
    TrainingExample,
    dump_decision,
    parse_decision,
    validate_decision,
)
from contract.prompt import SYSTEM_PROMPT, build_messages, render_prompt, render_prompt_parts
from contract.schema import decision_json_schema, grammar_json_schema
from contract.tools import TOOLS, ToolSpec

__all__ = [
    "AskHumanArgs",
    "AskHumanCall",
    "CodebaseSearchArgs",
    "CodebaseSearchCall",
    "CompleteDecision",
    "Decision",
    "FileList",
    "FileManagerArgs",
    "FileManagerCall",
    "FilePatch",
    "FileRead",
    "FileWrite",
    "RunningDecision",
    "SandboxExecArgs",
    "SandboxExecCall",
    "SYSTEM_PROMPT",
    "TOOLS",
    "ToolSpec",
    "ToolUse",
    "TrainingExample",
    "build_messages",
    "decision_json_schema",
    "dump_decision",
    "grammar_json_schema",
    "parse_decision",
    "render_prompt",
    "render_prompt_parts",
    "validate_decision",
]
