"""The `/route` execute policy, decision by decision (pure logic, no server)."""

from __future__ import annotations

from pydantic import TypeAdapter

from contract import ToolUse
from service.tools_policy import decide, looks_destructive

ALL = ["codebase_search", "file_manager", "sandbox_exec", "ask_human"]
call = TypeAdapter(ToolUse).validate_python


def test_destructive_requests_become_ask_human() -> None:
    search = call({"tool_name": "codebase_search", "arguments": {"query": "build dirs"}})
    for query in ("Delete all the build folders", "force-push my branch over main", "please rm -rf dist",
                  "drop the users table"):
        verdict = decide(query, search, auto_run=ALL, auto_write=True)
        assert verdict.overridden and verdict.code == "destructive"
        assert verdict.tool_use.tool_name == "ask_human" and verdict.tool_use.arguments.context == query


def test_destructive_sandbox_code_is_caught_even_in_a_harmless_request() -> None:
    code = call({"tool_name": "sandbox_exec", "arguments": {"code": "import shutil; shutil.rmtree('x')"}})
    assert looks_destructive("tidy things up", code) == "shutil.rmtree"


def test_identifiers_and_plain_requests_are_not_destructive() -> None:
    search = call({"tool_name": "codebase_search", "arguments": {"query": "delete_user"}})
    for query in ("where is delete_user defined", "explain the drop_duplicates helper", "what is 2 + 2"):
        verdict = decide(query, search, auto_run=ALL, auto_write=False)
        assert verdict.action == "run" and not verdict.overridden and verdict.tool_use is search


def test_writes_need_the_setting_and_tools_need_auto_run() -> None:
    write = call({"tool_name": "file_manager", "arguments": {"operation": "write", "path": "a.txt", "content": "x"}})
    read = call({"tool_name": "file_manager", "arguments": {"operation": "read", "path": "a.txt"}})
    assert decide("create a.txt", write, auto_run=ALL, auto_write=False).code == "write_not_allowed"
    assert decide("create a.txt", write, auto_run=ALL, auto_write=True).action == "run"
    assert decide("show a.txt", read, auto_run=ALL, auto_write=False).action == "run"
    skipped = decide("show a.txt", read, auto_run=["codebase_search"], auto_write=True)
    assert skipped.action == "skip" and skipped.code == "not_auto_run"
    ask = call({"tool_name": "ask_human", "arguments": {"question": "Delete it?"}})
    assert decide("delete the old logs", ask, auto_run=ALL, auto_write=False).tool_use is ask
