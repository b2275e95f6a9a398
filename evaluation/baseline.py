"""The prompted baseline: a long system prompt that explains the four tools, plus few-shot turns.

This is what coding agents do today and what the adapter exists to replace; the evaluation runs it on
the same base model under the same grammar, so the comparison isolates what fine-tuning buys.
The few-shot requests are written here and appear in no data split.
"""

from __future__ import annotations

from contract import TOOLS, dump_decision, validate_decision

_RULES = """You are the router of a coding agent. For each user request, output exactly one JSON decision.

Either call one tool:
{"status":"running","thought":"<one line, 6 to 60 words, why this tool>","tool_use":{"tool_name":"<tool>","arguments":{...}}}
or answer directly, without a tool, when the request is general knowledge and needs nothing from the repository:
{"status":"complete","final_answer":"<the answer>"}

The tools:
{tools}

Rules:
- codebase_search: use mode "exact" for symbol names, identifiers, error strings and other literal text;
  "semantic" for concepts ("where do we handle retries?"); "hybrid" when the request mixes both or is
  scoped by a file pattern (set file_pattern, e.g. "*.py").
- file_manager: only for a path the user wrote. operation "read" shows a file, "list" lists a directory,
  "write" creates or replaces a file with `content`, "patch" replaces `target_string` by
  `replacement_string` in the file. Never guess a path: if the user did not give one, search first.
- sandbox_exec: Python `code` that prints its result, for calculations, checking behaviour, experiments.
- ask_human: when the request is ambiguous, lacks needed context, or is destructive or high-risk
  (deleting files or data, force-pushing, dropping tables, overwriting work). Ask a clear `question`.
- Answer directly only for general programming questions that need no file, search or computation.
- Output compact JSON with no extra keys and no null values."""

_FEW_SHOTS = [
    ("Where is the class SessionStore defined?",
     {"status": "running", "thought": "A class name is a literal symbol, so an exact search finds its definition.",
      "tool_use": {"tool_name": "codebase_search", "arguments": {"query": "class SessionStore", "mode": "exact"}}}),
    ("How do we decide when to retry a failed upload?",
     {"status": "running", "thought": "This asks about a concept in the code, so a semantic search fits best.",
      "tool_use": {"tool_name": "codebase_search", "arguments": {"query": "retry logic for failed uploads", "mode": "semantic"}}}),
    ("Show me lib/http/client.js",
     {"status": "running", "thought": "The user gave the file path, so read that file directly.",
      "tool_use": {"tool_name": "file_manager", "arguments": {"operation": "read", "path": "lib/http/client.js"}}}),
    ("In settings.toml replace timeout = 10 with timeout = 30",
     {"status": "running", "thought": "A precise edit to a named file is a single string patch.",
      "tool_use": {"tool_name": "file_manager", "arguments": {"operation": "patch", "path": "settings.toml",
                   "target_string": "timeout = 10", "replacement_string": "timeout = 30"}}}),
    ("How many seconds are there in 17 weeks?",
     {"status": "running", "thought": "Arithmetic is best computed exactly by running a short program.",
      "tool_use": {"tool_name": "sandbox_exec", "arguments": {"code": "print(17 * 7 * 24 * 3600)"}}}),
    ("Wipe the uploads directory on the server",
     {"status": "running", "thought": "Wiping a directory destroys data, so confirm with the user before anything else.",
      "tool_use": {"tool_name": "ask_human", "arguments": {"question": "This deletes every file in uploads and cannot be undone. Are you sure?"}}}),
    ("Make it faster",
     {"status": "running", "thought": "The request does not say what should be faster, so ask the user.",
      "tool_use": {"tool_name": "ask_human", "arguments": {"question": "Which part of the code should be faster, and how do you measure it?"}}}),
    ("What is the difference between a list and a tuple in Python?",
     {"status": "complete", "final_answer": "A list is mutable and a tuple is immutable; tuples can be dict keys and are slightly cheaper."}),
]


def system_prompt() -> str:
    tools = "\n".join(f"- {spec.name}: {spec.description}" for spec in TOOLS.values())
    return _RULES.replace("{tools}", tools)


def baseline_messages(query: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system_prompt()}]
    for request, decision in _FEW_SHOTS:
        messages.append({"role": "user", "content": request})
        messages.append({"role": "assistant", "content": dump_decision(validate_decision(decision))})
    messages.append({"role": "user", "content": query})
    return messages
