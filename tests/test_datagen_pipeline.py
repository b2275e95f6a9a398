"""Validation layers, dedup, split, chat formatting, JSONL durability, publishing and the committed dataset."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contract import build_messages, render_prompt
from datagen.cli import app
from datagen.compose import MIX, intent_of
from datagen.dedup import dedup, normalise
from datagen.jsonl import Appender, read_rows, write_rows
from datagen.publish import PublishError, publish
from datagen.sandbox_run import run_program
from datagen.split import chat_row, stratified_split, thin_by_intent
from datagen.validate import validate_rows

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "router"


def _search(query: str, q: str = "InvoiceService", thought: str = "The symbol is named, so an exact search finds it.",
            **args) -> dict:
    return {"user_query": query, "output": {"status": "running", "thought": thought, "tool_use": {
        "tool_name": "codebase_search", "arguments": {"query": q, "mode": "exact", **args}}}}


def _fm(query: str, **args) -> dict:
    return {"user_query": query, "output": {"status": "running", "thought": "The user gave the path, so read it directly.",
                                            "tool_use": {"tool_name": "file_manager", "arguments": args}}}


def _sbx(code: str) -> dict:
    return {"user_query": "what is 2**10", "output": {"status": "running", "thought": "Exact arithmetic, so run it in the sandbox.",
                                                      "tool_use": {"tool_name": "sandbox_exec", "arguments": {"code": code}}}}


CASES = [
    (_search("where is InvoiceService defined?"), None),
    ({"user_query": "hi", "output": {"status": "running"}}, "structural"),
    ({**_search("where is X?"), "extra": 1}, "structural"),
    (_search("where is InvoiceService defined?", thought="calling the tool"), "structural"),  # < 6 words
    (_search("where is InvoiceService defined?", thought="I will use the tool."), "structural"),
    (_search("find the code that retries failed webhook deliveries in the billing service please",
             thought="find the code that retries failed webhook deliveries in the billing service"), "quality"),
    (_search("open {0} now"), "quality"),
    (_search("where is X", q="x", file_pattern="*.py"), "domain"),
    (_fm("show me the config", operation="read", path="config/settings.yaml"), "domain"),
    (_fm("in a.py replace foo with bar", operation="patch", path="a.py", target_string="baz", replacement_string="bar"), "domain"),
    (_sbx("print(2**10)"), None),
    (_sbx("x = 2**10"), "domain"),
    (_sbx("import os\nos.system('rm -rf /')\nprint(1)"), "domain"),
    (_sbx("print(2**10"), "domain"),
    ({"user_query": "drop the users table", "output": {"status": "running", "thought": "Dropping a table is irreversible, confirm first.",
                                                       "tool_use": {"tool_name": "ask_human", "arguments": {"question": "Drop it."}}}}, "domain"),
    ({"user_query": "what is a mutex", "output": {"status": "complete", "final_answer": "idk"}}, "quality"),
]


@pytest.mark.parametrize("row,layer", CASES)
def test_each_layer_rejects_what_it_should(row, layer):
    accepted, report = validate_rows([row])
    if layer is None:
        assert len(accepted) == 1, report.as_dict()
    else:
        assert not accepted and report.rejected_by_layer[layer] == 1, report.as_dict()
        assert sum(report.reasons[layer].values()) == 1


def test_execute_rejects_code_that_fails_at_run_time():
    accepted, report = validate_rows([_sbx("print(1 / 0)"), _sbx("print(6 * 7)")], execute=True)
    assert len(accepted) == 1 and "code failed: ZeroDivisionError" in next(iter(report.reasons["domain"]))


def test_sandbox_runner_times_out():
    result = run_program("import time\ntime.sleep(5)\nprint(1)", timeout=0.5)
    assert not result.ok and result.timed_out


def test_dedup_exact_and_near():
    queries = ["Where is InvoiceService defined?", "where is invoiceservice defined", "where is InvoiceService defined??!",
               "Where is the InvoiceService class defined in the billing code, I need it for a bugfix today",
               "where is the InvoiceService class defined in the billing code? I need it for a bugfix today please",
               "how many seconds are in 37 days"]
    keep, report = dedup(queries)
    assert keep == [0, 3, 5]
    assert report.exact_duplicates == 2 and report.near_duplicates == 1


def test_stratified_split_keeps_the_mix():
    rows = read_rows(DATA / "train.jsonl")[:1000]
    train, test = stratified_split(rows, 0.2, seed=1)
    assert len(train) + len(test) == 1000
    assert not {normalise(r["user_query"]) for r in train} & {normalise(r["user_query"]) for r in test}
    full, part = Counter(intent_of(r["output"]) for r in rows), Counter(intent_of(r["output"]) for r in test)
    assert all(abs(part[k] - 0.2 * full[k]) <= 1 for k in full)


def test_thinning_keeps_the_mix_and_the_order():
    rows = read_rows(DATA / "train.jsonl")[:1000]
    kept = thin_by_intent(rows, 600, seed=3)
    assert abs(len(kept) - 600) <= len({intent_of(r["output"]) for r in rows})
    full, part = Counter(intent_of(r["output"]) for r in rows), Counter(intent_of(r["output"]) for r in kept)
    assert all(abs(part[k] - 0.6 * full[k]) <= 1 for k in full)
    position = {r["user_query"]: i for i, r in enumerate(rows)}
    assert [position[r["user_query"]] for r in kept] == sorted(position[r["user_query"]] for r in kept)
    assert thin_by_intent(rows, 600, seed=3) == kept and thin_by_intent(rows, 600, seed=4) != kept
    with pytest.raises(ValueError, match="keep must be between 1 and 1000"):
        thin_by_intent(rows, 1001)


def _compose(out: Path, *extra: str):
    return CliRunner().invoke(app, ["compose", "--rows", "80", "--seed", "5", "--out", str(out), "--no-progress", *extra])


def test_compose_thins_composed_training_rows_and_keeps_the_test_split(tmp_path):
    full, thin = tmp_path / "full", tmp_path / "thin"
    assert _compose(full).exit_code == 0
    result = _compose(thin, "--composed-train", "40")
    assert result.exit_code == 0, result.output
    assert (full / "test.jsonl").read_bytes() == (thin / "test.jsonl").read_bytes()
    kept = {r["user_query"] for r in read_rows(thin / "train.jsonl")}
    assert abs(len(kept) - 40) <= 5 and kept < {r["user_query"] for r in read_rows(full / "train.jsonl")}
    assert "--composed-train 40" in (thin / "README.md").read_text()
    too_many = _compose(tmp_path / "bad", "--composed-train", "1000")
    assert too_many.exit_code == 2 and "is more than the" in too_many.output


CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def test_chat_rows_use_the_serving_prompt():
    row = read_rows(DATA / "test.jsonl")[0]
    out = chat_row(row, CHATML)
    assert out["prompt"] == render_prompt(build_messages(row["user_query"]), CHATML)
    assert out["messages"][:2] == build_messages(row["user_query"])
    assert json.loads(out["completion"]) == row["output"] and "null" not in out["completion"]
    assert out["completion"] == json.dumps(row["output"], separators=(",", ":"), ensure_ascii=False)


def test_torn_last_line_is_refused_or_repaired(tmp_path):
    path = tmp_path / "rows.jsonl"
    with Appender(path) as app_:
        app_.write({"a": 1})
        app_.write({"a": 2})
    with path.open("a") as f:
        f.write('{"a": 3')
    with pytest.raises(ValueError, match="incomplete"):
        read_rows(path)
    assert read_rows(path, repair=True) == [{"a": 1}, {"a": 2}]
    assert path.read_text() == '{"a":1}\n{"a":2}\n'


def test_publish_dry_run_writes_exactly_the_upload(tmp_path):
    src = tmp_path / "data"
    rows = read_rows(DATA / "test.jsonl")[:20]
    write_rows(src / "train.jsonl", rows[:15])
    write_rows(src / "test.jsonl", rows[15:])
    (src / "README.md").write_text("# card\n")
    (src / "scratch.txt").write_text("not for upload")
    manifest = publish(src, "acme/router", dry_run=True, dry_run_dir=tmp_path / "up")
    uploaded = sorted(p.name for p in (tmp_path / "up").iterdir())
    assert uploaded == ["README.md", "test.jsonl", "train.jsonl", "upload_manifest.json"]
    assert [f["path_in_repo"] for f in manifest["files"]] == ["README.md", "train.jsonl", "test.jsonl"]
    assert (tmp_path / "up" / "train.jsonl").read_bytes() == (src / "train.jsonl").read_bytes()
    assert json.loads((tmp_path / "up" / "upload_manifest.json").read_text()) == manifest


def test_publish_refuses_bad_data_and_missing_token(tmp_path):
    src = tmp_path / "data"
    write_rows(src / "train.jsonl", [{"user_query": "x", "output": {"status": "running"}}])
    write_rows(src / "test.jsonl", [])
    (src / "README.md").write_text("# card\n")
    with pytest.raises(PublishError, match="train.jsonl line 1"):
        publish(src, "acme/router", dry_run=True, dry_run_dir=tmp_path / "up")
    write_rows(src / "train.jsonl", read_rows(DATA / "test.jsonl")[:2])
    with pytest.raises(PublishError, match="HF_TOKEN"):
        publish(src, "acme/router", dry_run=False, token=None)
    result = CliRunner().invoke(app, ["publish", "not-a-repo-id", "--data-dir", str(src), "--dry-run"])
    assert result.exit_code == 2 and "owner/name" in result.output


def test_cli_validate_and_split(tmp_path):
    rows = read_rows(DATA / "test.jsonl")[:60] + [{"user_query": "x", "output": {"status": "running"}}]
    write_rows(tmp_path / "in.jsonl", rows + rows[:3])
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "ok.jsonl"),
                                      "--no-execute", "--report", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["rejected"]["structural"] == 1 and report["duplicates"]["exact"] == 3 and report["kept"] == 60
    tpl = tmp_path / "chat.jinja"
    tpl.write_text(CHATML)
    result = CliRunner().invoke(app, ["split", str(tmp_path / "ok.jsonl"), "--out", str(tmp_path / "s"),
                                      "--chat-template", str(tpl)])
    assert result.exit_code == 0, result.output
    assert len(read_rows(tmp_path / "s" / "train.chat.jsonl")) + len(read_rows(tmp_path / "s" / "test.jsonl")) == 60
    missing = CliRunner().invoke(app, ["stats", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


# --- the committed dataset: the acceptance checks ---------------------------------------


@pytest.fixture(scope="module")
def dataset():
    return read_rows(DATA / "train.jsonl") + read_rows(DATA / "test.jsonl")


def test_committed_dataset_size_mix_and_uniqueness(dataset):
    assert len(dataset) >= 5000
    mix = Counter(intent_of(r["output"]) for r in dataset)
    for intent, target in MIX.items():
        assert abs(mix[intent] / len(dataset) - target) <= 0.05, intent
    assert len({normalise(r["user_query"]) for r in dataset}) / len(dataset) >= 0.98
    assert all(set(r) == {"user_query", "output"} for r in dataset)


def test_committed_dataset_rules_hold(dataset):
    accepted, report = validate_rows(dataset)
    assert len(accepted) == len(dataset), report.as_dict()
    thoughts = [r["output"]["thought"] for r in dataset if r["output"]["status"] == "running"]
    # Short thoughts (the reason clause alone, docs/speed.md) repeat more than two-clause ones did (39 %
    # distinct against 78 %); a collapsed thought bank would fail either bound.
    assert len(set(thoughts)) / len(thoughts) >= 0.35
    assert Counter(thoughts).most_common(1)[0][1] <= 0.02 * len(thoughts)
    fm = [r for r in dataset if r["output"].get("tool_use", {}).get("tool_name") == "file_manager"]
    assert fm and all(r["output"]["tool_use"]["arguments"]["path"] in r["user_query"] for r in fm)


def test_committed_sandbox_programs_run_and_print(dataset):
    programs = [r["output"]["tool_use"]["arguments"]["code"] for r in dataset
                if r["output"].get("tool_use", {}).get("tool_name") == "sandbox_exec"]
    for code in random.Random(7).sample(programs, 12):
        result = run_program(code)
        assert result.ok and result.stdout.strip(), code
