"""The offline composer: deterministic, in the target mix, valid, diverse, and obeying the routing rules."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from contract import TrainingExample
from datagen.compose import MIX, compose, draft_row, intent_of, quotas
from datagen.domains import DOMAINS
from datagen.knowledge import TOPICS
from datagen.sandbox_run import run_program
from datagen.styles import PERSONAS, STYLES, apply_style, mark, unmark
from datagen.validate import parrots


@pytest.fixture(scope="module")
def composed():
    return compose(300, seed=11)


def test_quotas_sum_and_follow_the_mix():
    q = quotas(997)
    assert sum(q.values()) == 997
    assert all(abs(q[k] - 997 * share) < 1 for k, share in MIX.items())


def test_vocabulary_meets_the_diversity_floor():
    assert len(DOMAINS) >= 40 and len({d.name for d in DOMAINS}) == len(DOMAINS)
    assert len(PERSONAS) >= 30 and len(STYLES) >= 25
    assert len({t.key for t in TOPICS}) >= 150 and all(len(t.answer.split()) >= 8 for t in TOPICS)


def test_exact_mix_valid_rows_and_unique_queries(composed):
    rows, report = composed
    assert len(rows) == 300
    assert Counter(intent_of(r["output"]) for r in rows) == Counter(quotas(300))
    for row in rows:
        TrainingExample.model_validate({"user_query": row["user_query"], "output": row["output"]})
    assert len({r["user_query"].lower() for r in rows}) == 300
    assert report.validation.total >= 300


def test_same_seed_same_rows_other_seed_other_rows(composed):
    rows, _ = composed
    again, _ = compose(300, seed=11)
    assert [r["user_query"] for r in again] == [r["user_query"] for r in rows]
    other, _ = compose(300, seed=12)
    assert len({r["user_query"] for r in other} & {r["user_query"] for r in rows}) < 30


def test_routing_rules(composed):
    rows, _ = composed
    for row in rows:
        out, q = row["output"], row["user_query"]
        if out["status"] == "complete":
            continue
        tool, args = out["tool_use"]["tool_name"], out["tool_use"]["arguments"]
        words = len(out["thought"].split())
        assert 6 <= words <= 30 and not parrots(out["thought"], q)
        if tool == "file_manager":
            assert args["path"] in q
            if args["operation"] == "patch":
                assert args["target_string"] in q and args["replacement_string"] in q
            if row["meta"]["subtype"] == "write":  # content given verbatim (write_described derives it)
                assert args["content"].strip() in q
        if tool == "codebase_search":
            assert ("file_pattern" in args) <= (args["mode"] == "hybrid")
            if row["meta"]["subtype"] in ("exact_symbol", "exact_literal", "exact_config"):
                assert args["mode"] == "exact" and args["query"] in q
        if row["meta"]["subtype"] == "edit_without_path":
            assert tool == "codebase_search"


def test_sandbox_programs_really_ran_and_printed(composed):
    rows, _ = composed
    compute = [r for r in rows if r["meta"]["intent"] == "compute"]
    assert compute and all(r["meta"]["sandbox_stdout"].strip() for r in compute)
    for row in random.Random(0).sample(compute, 3):  # and they still do
        result = run_program(row["output"]["tool_use"]["arguments"]["code"])
        assert result.ok and result.stdout == row["meta"]["sandbox_stdout"][:300] or result.stdout.startswith(
            row["meta"]["sandbox_stdout"][:300])


def test_styles_never_damage_protected_slots():
    slot = "src/billing/ledger_entry_utils.py"
    for style in STYLES:
        for seed in range(5):
            out = unmark(apply_style(random.Random(seed), style, mark("please read {0} and explain it", 1)), [slot])
            assert out is not None and slot in out, style


def test_draft_row_is_a_pure_function():
    assert draft_row(3, "modify", 17) == draft_row(3, "modify", 17)
    assert draft_row(3, "modify", 17) != draft_row(3, "modify", 18)


def test_escalations_ask_a_question(composed):
    rows, _ = composed
    asks = [r for r in rows if r["meta"]["intent"] == "escalate"]
    assert {r["meta"]["subtype"] for r in asks} == {"destructive", "ambiguous"}
    assert all("?" in r["output"]["tool_use"]["arguments"]["question"] for r in asks)


def test_short_thoughts_change_only_the_thought():
    """The shorter-thought variant keeps each request and decision; its thoughts are the reason clauses."""
    shortened = 0
    for intent in MIX:
        for index in range(40):
            full, short = draft_row(11, intent, index), draft_row(11, intent, index, short_thoughts=True)
            assert short["user_query"] == full["user_query"]
            assert {k: v for k, v in short["output"].items() if k != "thought"} == \
                   {k: v for k, v in full["output"].items() if k != "thought"}
            if "thought" in full["output"]:
                long_text, short_text = full["output"]["thought"], short["output"]["thought"]
                assert long_text.startswith(short_text.removesuffix("."))
                assert 6 <= len(short_text.split()) <= len(long_text.split())
                TrainingExample.model_validate({k: short[k] for k in ("user_query", "output")})  # still valid
                shortened += short_text != long_text
    assert shortened > 100
