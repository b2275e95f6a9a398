"""The contract accepts good decisions and rejects each rule's violation."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from contract import (
    TOOLS,
    TrainingExample,
    decision_json_schema,
    dump_decision,
    grammar_json_schema,
    parse_decision,
    validate_decision,
)

THOUGHT = "The user names a symbol, so an exact search finds its definition"


def running(tool_name: str, arguments: dict, **extra) -> dict:
    return {"status": "running", "thought": THOUGHT, "tool_use": {"tool_name": tool_name, "arguments": arguments}} | extra


GOOD = [
    running("codebase_search", {"query": "class User", "mode": "exact"}),
    running("codebase_search", {"query": "retry logic", "mode": "semantic", "file_pattern": "*.py"}),
    running("file_manager", {"operation": "list", "path": "."}),
    running("file_manager", {"operation": "read", "path": ".github/workflows/ci.yml"}),
    running("file_manager", {"operation": "write", "path": "docs/new.md", "content": "# New\n"}),
    running("file_manager", {"operation": "patch", "path": "a.py", "target_string": "x", "replacement_string": ""}),
    running("sandbox_exec", {"code": "print(17 * 23)", "timeout": 5}),
    running("ask_human", {"question": "Drop the production table?", "context": "irreversible"}),
    {"status": "complete", "final_answer": "A mutex serialises access to shared state."},
]


@pytest.mark.parametrize("decision", GOOD, ids=lambda d: d.get("tool_use", {}).get("tool_name", "complete"))
def test_good_decisions_validate_and_round_trip(decision):
    parsed = validate_decision(decision)
    assert parse_decision(dump_decision(parsed)) == parsed


def test_dump_is_compact_and_leaves_absent_fields_out():
    text = dump_decision(validate_decision(running("ask_human", {"question": "Which environment?"})))
    assert " " not in text.replace("Which environment?", "").replace(THOUGHT, "")
    assert "null" not in text and "context" not in text


def test_defaults_fill_in_when_the_model_leaves_them_out():
    decision = validate_decision(running("codebase_search", {"query": "User"}))
    assert decision.tool_use.arguments.mode == "hybrid"
    assert validate_decision(running("sandbox_exec", {"code": "print(1)"})).tool_use.arguments.timeout == 30


BAD = {
    "extra key at top": running("codebase_search", {"query": "x"}, confidence=0.9),
    "extra key in arguments": running("codebase_search", {"query": "x", "limit": 5}),
    "extra key in tool_use": {"status": "running", "thought": THOUGHT,
                              "tool_use": {"tool_name": "ask_human", "arguments": {"question": "q"}, "id": 1}},
    "unknown tool": running("shell", {"cmd": "ls"}),
    "unknown status": {"status": "thinking", "final_answer": "x"},
    "unknown mode": running("codebase_search", {"query": "x", "mode": "fuzzy"}),
    "thought too short": running("ask_human", {"question": "q"}) | {"thought": "too few words here"},
    "thought too long": running("ask_human", {"question": "q"}) | {"thought": " ".join(["word"] * 61)},
    "thought on two lines": running("ask_human", {"question": "q"}) | {"thought": "one two three\nfour five six"},
    "thought missing": {"status": "running", "tool_use": {"tool_name": "ask_human", "arguments": {"question": "q"}}},
    "timeout zero": running("sandbox_exec", {"code": "print(1)", "timeout": 0}),
    "timeout over 30": running("sandbox_exec", {"code": "print(1)", "timeout": 31}),
    "patch without replacement": running("file_manager", {"operation": "patch", "path": "a.py", "target_string": "x"}),
    "patch without target": running("file_manager", {"operation": "patch", "path": "a.py", "replacement_string": "y"}),
    "write without content": running("file_manager", {"operation": "write", "path": "a.py"}),
    "read with content": running("file_manager", {"operation": "read", "path": "a.py", "content": "x"}),
    "absolute path": running("file_manager", {"operation": "read", "path": "/etc/passwd"}),
    "parent escape": running("file_manager", {"operation": "read", "path": "src/../../etc/passwd"}),
    "home path": running("file_manager", {"operation": "read", "path": "~/.ssh/id_rsa"}),
    "empty query": running("codebase_search", {"query": ""}),
    "empty final answer": {"status": "complete", "final_answer": ""},
    "complete with a tool": {"status": "complete", "final_answer": "x", "tool_use": {"tool_name": "ask_human"}},
}


@pytest.mark.parametrize("name", list(BAD))
def test_each_rule_violation_is_rejected(name):
    with pytest.raises(ValidationError):
        validate_decision(BAD[name])


def test_reasoning_off_forbids_the_thought_and_on_requires_it():
    without = {"status": "running", "tool_use": {"tool_name": "ask_human", "arguments": {"question": "q"}}}
    assert validate_decision(without, reasoning=False).thought is None
    with pytest.raises(ValidationError, match="required"):
        validate_decision(without, reasoning=True)
    with pytest.raises(ValidationError, match="absent"):
        validate_decision(running("ask_human", {"question": "q"}), reasoning=False)


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


@pytest.mark.parametrize("reasoning", [True, False])
def test_grammar_schema_is_closed_and_null_free(reasoning):
    schema = grammar_json_schema(reasoning=reasoning)
    text = json.dumps(schema)
    assert '"null"' not in text and "oneOf" not in text and "discriminator" not in text
    for node in _walk(schema):
        if node.get("type") == "object":
            assert node.get("additionalProperties") is False, node
    running_def = schema["$defs"]["RunningDecision"]
    assert ("thought" in running_def["properties"]) is reasoning
    assert ("thought" in running_def["required"]) is reasoning


def test_documented_schema_keeps_descriptions():
    assert "description" in json.dumps(decision_json_schema())


def test_registry_names_each_tool_with_an_argument_schema():
    assert set(TOOLS) == {"codebase_search", "file_manager", "sandbox_exec", "ask_human"}
    for spec in TOOLS.values():
        assert spec.description and spec.parameters_schema()


def test_training_example_wraps_a_decision():
    row = TrainingExample.model_validate({"user_query": "what is 2+2?", "output": GOOD[6]})
    assert row.output.tool_use.tool_name == "sandbox_exec"
    with pytest.raises(ValidationError):
        TrainingExample.model_validate({"user_query": "q", "output": GOOD[6], "label": "x"})
