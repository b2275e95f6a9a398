"""Which decided tool calls `/route` with `execute: true` may run on its own.

`/v1/tools/execute` is an explicit call and bypasses this. For `/route`, defence in depth:
- a request that reads as destructive (delete, drop, wipe, force-push, rm -rf, ...) is turned into an
  `ask_human` call even when the model chose another tool, and `router_tools_policy_overrides_total`
  counts it;
- file_manager `write` and `patch` run only with ROUTER_TOOLS_AUTO_WRITE=true;
- a tool missing from ROUTER_TOOLS_AUTO_RUN is not run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from contract import AskHumanArgs, AskHumanCall, FileManagerCall, FilePatch, FileWrite, SandboxExecCall
from contract.safety import destructive_phrase

_DESTRUCTIVE_CODE = re.compile(r"\b(shutil\.rmtree|os\.remove|os\.unlink|os\.rmdir|subprocess|os\.system)\b")


@dataclass(frozen=True)
class PolicyVerdict:
    action: Literal["run", "skip"]
    tool_use: object
    reason: str | None = None
    """Why the call was changed or skipped; None when it runs as decided."""
    overridden: bool = False
    code: Literal["destructive", "not_auto_run", "write_not_allowed"] | None = None
    """The metric label of a change or skip."""


def looks_destructive(query: str, tool_use: object) -> str | None:
    """The phrase that makes this request destructive, or None."""
    if phrase := destructive_phrase(query):
        return phrase
    if isinstance(tool_use, SandboxExecCall):
        code_match = _DESTRUCTIVE_CODE.search(tool_use.arguments.code)
        if code_match:
            return code_match.group(0)
    return None


def decide(query: str, tool_use: object, *, auto_run: list[str], auto_write: bool) -> PolicyVerdict:
    phrase = looks_destructive(query, tool_use)
    if phrase and not isinstance(tool_use, AskHumanCall):
        question = f"This request looks destructive ({phrase!r}). Should I go ahead?"
        forced = AskHumanCall(tool_name="ask_human",
                              arguments=AskHumanArgs(question=question, context=query[:600]))
        return PolicyVerdict("run", forced, f"destructive request ({phrase!r}): asking a human first", True,
                             "destructive")
    name = tool_use.tool_name
    if name not in auto_run:
        return PolicyVerdict("skip", tool_use, f"{name} is not in ROUTER_TOOLS_AUTO_RUN; "
                             "run it explicitly with POST /v1/tools/execute", code="not_auto_run")
    if isinstance(tool_use, FileManagerCall) and isinstance(tool_use.arguments, (FileWrite, FilePatch)) \
            and not auto_write:
        return PolicyVerdict("skip", tool_use, "file_manager writes and patches need ROUTER_TOOLS_AUTO_WRITE=true; "
                             "run it explicitly with POST /v1/tools/execute", code="write_not_allowed")
    return PolicyVerdict("run", tool_use)
