"""Curated rows: validated like composed ones, a bad row is an error, duplicates are dropped, and they
only ever reach the training split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datagen.cli import app
from datagen.curated import CuratedRowError, load_curated
from datagen.jsonl import read_rows, write_rows

REPO = Path(__file__).resolve().parents[1]


def _search(query: str, symbol: str) -> dict:
    return {"user_query": query, "output": {"status": "running", "thought": "A named symbol, so an exact search finds it.",
                                            "tool_use": {"tool_name": "codebase_search",
                                                         "arguments": {"query": symbol, "mode": "exact"}}}}


def _ask(query: str) -> dict:
    return {"user_query": query, "output": {"status": "running", "thought": "Too vague to act on; ask what is broken.",
                                            "tool_use": {"tool_name": "ask_human", "arguments": {
                                                "question": "What is broken? Please paste the error and the command."}}}}


def test_rows_load_in_file_order_and_duplicates_of_composed_requests_are_dropped(tmp_path):
    write_rows(tmp_path / "b.jsonl", [_ask("its broken again can u look")])
    write_rows(tmp_path / "a.jsonl", [_search("who even calls reconcileLedgerV2 anymore", "reconcileLedgerV2"),
                                      _search("where is TenantRouter defined?", "TenantRouter")])
    rows, report = load_curated(tmp_path, composed_queries=["Where is TenantRouter defined"])
    assert [r["user_query"] for r in rows] == ["who even calls reconcileLedgerV2 anymore", "its broken again can u look"]
    assert report.files == {"a.jsonl": 2, "b.jsonl": 1}
    assert report.duplicates == 1
    assert report.intents == {"search": 1, "escalate": 1}


def test_a_row_that_fails_validation_is_an_error_naming_file_line_and_reason(tmp_path):
    bad_path = {"user_query": "show me the config", "output": {
        "status": "running", "thought": "The user gave the path; read it first.",
        "tool_use": {"tool_name": "file_manager", "arguments": {"operation": "read", "path": "config/app.yaml"}}}}
    write_rows(tmp_path / "files.jsonl", [_search("where is TenantRouter defined?", "TenantRouter"), bad_path])
    with pytest.raises(CuratedRowError, match=r"1 curated rows do not validate:\n  files\.jsonl:2: domain: "):
        load_curated(tmp_path, composed_queries=[])


def test_an_empty_folder_is_an_error(tmp_path):
    with pytest.raises(CuratedRowError, match="no \\*.jsonl files"):
        load_curated(tmp_path, composed_queries=[])


def test_compose_adds_curated_rows_to_train_only_and_says_so(tmp_path):
    curated = tmp_path / "curated"
    curated.mkdir()
    mine = [_search("who even calls reconcileLedgerV2 anymore", "reconcileLedgerV2"), _ask("its broken again can u look")]
    write_rows(curated / "mine.jsonl", mine)
    out = tmp_path / "data"
    result = CliRunner().invoke(app, ["compose", "--rows", "40", "--seed", "3", "--out", str(out), "--no-progress",
                                      "--curated", str(curated)])
    assert result.exit_code == 0, result.output
    train, test = read_rows(out / "train.jsonl"), read_rows(out / "test.jsonl")
    queries = {r["user_query"] for r in train}
    assert {r["user_query"] for r in mine} <= queries
    assert not {r["user_query"] for r in mine} & {r["user_query"] for r in test}
    assert len(train) + len(test) == 42
    card = (out / "README.md").read_text()
    assert f"--curated {curated}" in card and "## Curated rows" in card and "| mine.jsonl | 2 |" in card
    stats = json.loads((out / "stats.json").read_text())
    assert stats["curated"]["kept"] == 2 and stats["train"] == len(train)


def test_compose_refuses_a_bad_curated_row_with_a_clear_message(tmp_path):
    curated = tmp_path / "curated"
    curated.mkdir()
    (curated / "x.jsonl").write_text(json.dumps({"user_query": "hi", "output": {"status": "running"}}) + "\n")
    result = CliRunner().invoke(app, ["compose", "--rows", "20", "--out", str(tmp_path / "d"), "--no-progress",
                                      "--curated", str(curated)])
    assert result.exit_code == 2
    assert "x.jsonl:1: structural" in result.output
    assert not (tmp_path / "d" / "train.jsonl").exists()


def test_committed_curated_rows_all_validate():
    rows, report = load_curated(REPO / "data" / "curated", composed_queries=[], execute=False)
    assert sum(report.files.values()) >= 500
    assert len(rows) + report.duplicates == sum(report.files.values())
