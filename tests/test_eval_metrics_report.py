"""Evaluation: scoring rules on hand-made outcomes, the report files, and the real targets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from contract import TrainingExample, build_messages, validate_decision
from evaluation.baseline import baseline_messages, system_prompt
from evaluation.metrics import LABELS, Outcome, invented_path, is_destructive, score
from evaluation.report import loss_plot, write_report
from evaluation.runner import run_target, sample
from training.formatting import load_examples

FIXTURE = Path(__file__).parent / "fixtures" / "training_rows.jsonl"


def _decision(tool: str, **args):
    if tool == "answer":
        return validate_decision({"status": "complete", "final_answer": args.get("text", "an answer")})
    return validate_decision({"status": "running", "thought": "this is a thought of six words",
                              "tool_use": {"tool_name": tool, "arguments": args}})


@pytest.fixture(scope="module")
def examples() -> list[TrainingExample]:
    return load_examples(FIXTURE)


def test_perfect_router_scores_one(examples):
    s = score(examples, [Outcome(e.output, 10.0 + i) for i, e in enumerate(examples)])
    assert s.decision_accuracy == 1 and s.validity == 1 and s.argument_accuracy == 1
    assert s.safety == 1 and s.destructive == 1 and s.invented_paths == 0 and s.file_manager_calls == 4
    assert s.per_tool["file_manager"] == {"precision": 1, "recall": 1, "f1": 1, "support": 4}
    assert s.latency_p50_ms == pytest.approx(14.5)
    assert sum(map(sum, s.confusion)) == len(examples)


def test_mistakes_are_counted_where_they_belong(examples):
    outcomes = [Outcome(e.output, 5.0) for e in examples]
    # 0: exact search answered with the wrong mode -> right tool, wrong argument.
    outcomes[0] = Outcome(_decision("codebase_search", query="def parse_config", mode="semantic"), 5.0)
    # 1: a search scoped to Go files the request never mentions -> an invented scope.
    outcomes[1] = Outcome(_decision("codebase_search", query="API authentication", mode="semantic", file_pattern="**/*.go"), 5.0)
    # 2: read of a path the user never wrote -> right tool, wrong path, invented path.
    outcomes[2] = Outcome(_decision("file_manager", operation="read", path="src/helpers.py"), 5.0)
    # 5: the destructive request is carried out -> wrong tool, unsafe.
    outcomes[5] = Outcome(_decision("file_manager", operation="list", path="migrations"), 5.0)
    # 6: invalid output.
    outcomes[6] = Outcome(None, 5.0, error="HTTP 500")
    s = score(examples, outcomes)
    assert s.decision_accuracy == pytest.approx(8 / 10)
    assert s.validity == pytest.approx(9 / 10)
    assert s.safety == 0
    assert s.invented_paths == 1 and s.file_manager_calls == 5  # src/helpers.py; "migrations" was written
    assert s.invented_scopes == 1 and s.search_calls == 2
    assert s.per_field["codebase_search.mode"]["accuracy"] == pytest.approx(1 / 2)
    assert s.per_field["file_manager.path"]["accuracy"] == pytest.approx(3 / 4)
    assert s.argument_accuracy == pytest.approx(4 / 6)
    answer = LABELS.index("answer")
    assert s.confusion[answer][-1] == 1 and s.per_tool["answer"]["recall"] == 0
    assert s.errors == ["HTTP 500"]


def test_path_and_destructive_rules():
    read = _decision("file_manager", operation="read", path="src/app.py")
    assert not invented_path("open ./src/app.py please", read)
    assert invented_path("open the app module", read)
    assert not invented_path("what's here?", _decision("file_manager", operation="list", path="."))
    row = TrainingExample(user_query="please rm -rf the build dir", output=_decision("ask_human", question="Sure?"))
    assert is_destructive(row)
    assert not is_destructive(TrainingExample(user_query="delete it?", output=_decision("answer")))


def test_sample_is_seeded_and_keeps_order(examples):
    a, b = sample(examples, 4), sample(examples, 4)
    assert a == b and len(a) == 4
    assert [examples.index(x) for x in a] == sorted(examples.index(x) for x in a)


def test_report_writes_markdown_json_and_plots(examples, tmp_path):
    good = score(examples, [Outcome(e.output, 100.0) for e in examples])
    bad = score(examples, [Outcome(_decision("answer"), 900.0) for e in examples])
    paths = write_report({"adapter": good, "prompted baseline": bad},
                         {"adapter": [100.0] * 10, "prompted baseline": [900.0] * 10}, {"data": "fixture"}, tmp_path)
    md = paths["markdown"].read_text()
    assert "| decision accuracy (status + tool) | 100.0 % | 10.0 % |" in md
    assert json.loads(paths["json"].read_text())["results"]["adapter"]["decision_accuracy"] == 1
    for name in ("confusion-adapter", "confusion-prompted-baseline", "latency"):
        assert paths[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps({"step": i, "loss": 2.0 / i}) + "\n" for i in range(1, 30)))
    assert loss_plot(log, tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_baseline_prompt_is_long_and_explains_every_tool():
    prompt = system_prompt()
    for tool in ("codebase_search", "file_manager", "sandbox_exec", "ask_human"):
        assert tool in prompt
    messages = baseline_messages("Where is main defined?")
    assert len(messages) == 1 + 2 * 8 + 1 and messages[-1] == {"role": "user", "content": "Where is main defined?"}
    for m in messages[2:-1:2]:
        validate_decision(json.loads(m["content"]))
    assert len(prompt) > 5 * len(build_messages("x")[0]["content"])


@pytest.mark.slow
def test_targets_on_the_real_engine_and_server(engine, live_server, examples):
    """The in-process baseline on the real engine, and the HTTP target on a real `router serve`."""
    from evaluation.targets import HttpTarget, PromptedBaseline

    rows = examples[:2]
    baseline = asyncio.run(run_target(PromptedBaseline(engine, max_tokens=200), rows))
    assert all(o.decision is not None and o.latency_ms > 0 for o in baseline), [o.error for o in baseline]

    async def over_http():
        target = HttpTarget(live_server.url)
        try:
            return await run_target(target, rows)
        finally:
            await target.close()

    served = asyncio.run(over_http())
    assert all(o.decision is not None for o in served), [o.error for o in served]
    down = asyncio.run(run_target(HttpTarget("http://127.0.0.1:9"), rows[:1]))
    assert down[0].decision is None and "request failed" in down[0].error
