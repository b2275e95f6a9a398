"""Calibration of meta.confidence in `router eval`: the binning and ECE math on hand-made outcomes, the
report's reliability table, and an in-process eval of the real engine that produces it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from contract import TrainingExample, validate_decision
from evaluation.metrics import OVERALL, Outcome, calibration, reliability, score
from evaluation.report import write_report
from evaluation.runner import run_target, write_predictions


def _running(tool: str, **args):
    return validate_decision({"status": "running", "thought": "this is a thought of six words",
                              "tool_use": {"tool_name": tool, "arguments": args}})  # fmt: skip


ANSWER = validate_decision({"status": "complete", "final_answer": "an answer"})


def test_reliability_bins_and_expected_calibration_error():
    pairs = [(0.3, False), (0.3, True), (0.6, True), (0.95, True), (0.95, False), (1.0, True)]
    table = reliability(pairs)
    bins = {b["bin"]: b for b in table["bins"]}
    assert [b["count"] for b in table["bins"]] == [2, 1, 0, 2, 1]
    assert bins["<0.5"]["mean_confidence"] == pytest.approx(0.3) and bins["<0.5"]["accuracy"] == 0.5
    assert bins["0.7-0.9"]["accuracy"] is None and bins["0.7-0.9"]["mean_confidence"] is None
    assert bins["0.9-0.99"]["accuracy"] == 0.5 and bins[">=0.99"]["accuracy"] == 1.0
    # sum over bins of share * |accuracy - confidence|: 2/6*0.2 + 1/6*0.4 + 2/6*0.45 + 1/6*0
    assert table["ece"] == pytest.approx(0.2 / 3 + 0.4 / 6 + 0.9 / 6) and table["n"] == 6
    edges = reliability([(0.5, True), (0.99, True), (0.7, False)])
    assert [b["count"] for b in edges["bins"]] == [0, 1, 1, 0, 1]  # a lower edge belongs to its bin
    assert reliability([(1.0, True)] * 4)["ece"] == 0.0
    assert reliability([]) == {"n": 0, "ece": None, "bins": reliability([])["bins"]}


def test_each_key_is_judged_where_the_choices_before_it_were_right():
    rows = [
        TrainingExample(user_query="find parse_config", output=_running("codebase_search", query="parse_config", mode="exact")),
        TrainingExample(user_query="what is a mutex?", output=ANSWER),
        TrainingExample(user_query="read a.py", output=_running("file_manager", operation="read", path="a.py")),
        TrainingExample(user_query="x", output=ANSWER),
        TrainingExample(user_query="y", output=ANSWER),
    ]
    outcomes = [
        # right status and tool, wrong mode
        Outcome(_running("codebase_search", query="parse_config", mode="semantic"), 1.0,
                confidence={"status": 0.9, "tool_name": 0.8, "mode": 0.6}),
        # wrong status: the tool and operation it then chose are not judged
        Outcome(_running("file_manager", operation="list", path="."), 1.0,
                confidence={"status": 0.7, "tool_name": 0.95, "operation": 0.99}),
        Outcome(_running("file_manager", operation="read", path="a.py"), 1.0,
                confidence={"status": 0.995, "tool_name": 0.97, "operation": 1.0}),
        Outcome(ANSWER, 1.0),  # no confidence reported: left out
        Outcome(None, 1.0, error="HTTP 500", confidence={"status": 0.5}),  # invalid: left out
    ]
    cal = calibration(rows, outcomes)
    assert {k: (t["n"], sum(b["count"] * (b["accuracy"] or 0) for b in t["bins"])) for k, t in cal.items()} == {
        "status": (3, 2), "tool_name": (2, 2), "mode": (1, 0), "operation": (1, 1), OVERALL: (3, 1)}
    overall = {b["bin"]: b for b in cal[OVERALL]["bins"]}
    # least confident keys 0.6 (wrong mode) and 0.7 (wrong status): both decisions wrong
    assert [overall[b]["count"] for b in ("0.5-0.7", "0.7-0.9")] == [1, 1]
    assert overall["0.5-0.7"]["accuracy"] == overall["0.7-0.9"]["accuracy"] == 0
    assert overall["0.9-0.99"]["accuracy"] == 1 and overall["0.9-0.99"]["mean_confidence"] == pytest.approx(0.97)
    assert cal["status"]["ece"] == pytest.approx((abs(0 - 0.7) + abs(1 - 0.9) + abs(1 - 0.995)) / 3)
    assert score(rows, outcomes).calibration == cal


def test_http_target_carries_meta_confidence():
    from evaluation.targets import HttpTarget

    body = {"status": "complete", "final_answer": "a mutex is a lock", "meta": {"confidence": {"status": 0.8123}}}
    target = HttpTarget("http://router.test")
    target._client = httpx.AsyncClient(base_url=target.url, transport=httpx.MockTransport(
        lambda request: httpx.Response(200, json=body)))  # fmt: skip
    row = TrainingExample(user_query="what is a mutex?", output=ANSWER)
    [outcome] = asyncio.run(run_target(target, [row]))
    assert outcome.decision.final_answer == "a mutex is a lock" and outcome.confidence == {"status": 0.8123}
    body["meta"]["low_confidence"] = True  # the server replaced the model's choice: its confidence is not the decision's
    [overridden] = asyncio.run(run_target(target, [row]))
    assert overridden.decision is not None and overridden.confidence == {}


def test_in_process_eval_writes_the_reliability_table(gguf_path, tmp_path):
    from service.engines.llamacpp import LlamaCppEngine
    from service.routing import Router
    from service.settings import SHIPPED_ADAPTER
    from training.formatting import load_examples

    from evaluation.runner import sample
    from evaluation.targets import RouterTarget

    rows = sample(load_examples(Path(__file__).resolve().parents[1] / "data" / "router" / "test.jsonl"), 3)
    engine = LlamaCppEngine(gguf_path, adapter_path=SHIPPED_ADAPTER, n_threads=1)
    outcomes = asyncio.run(run_target(RouterTarget(Router(engine, max_tokens=512), "adapter"), rows))
    assert all(0 < o.confidence["status"] <= 1 for o in outcomes), [o.error for o in outcomes]
    scores = score(rows, outcomes)
    assert scores.calibration["status"]["n"] == 3
    assert sum(b["count"] for b in scores.calibration[OVERALL]["bins"]) == 3
    paths = write_report({"adapter": scores}, {"adapter": [o.latency_ms for o in outcomes]}, {"data": "test"}, tmp_path)
    md = paths["markdown"].read_text()
    assert "| key | confidence | count | mean confidence | accuracy |" in md
    assert "| status | 3 |" in md and "expected calibration error" in md
    saved = json.loads(paths["json"].read_text())["results"]["adapter"]["calibration"]
    assert saved["status"]["n"] == 3 and len(saved["status"]["bins"]) == 5
    # Each prediction row keeps its confidences, so a threshold can be tried offline on a finished run.
    write_predictions(tmp_path / "predictions.jsonl", rows, outcomes)
    written = [json.loads(line)["confidence"] for line in (tmp_path / "predictions.jsonl").open()]
    assert written == [{k: round(p, 4) for k, p in o.confidence.items()} for o in outcomes]
    # A threshold just above the row's least confident choice turns its decision into ask_human (a
    # trained adapter can be sure to 1.0 - 1e-6: a fixed threshold such as 0.9999 may never fire).
    threshold = min(outcomes[0].confidence.values()) + 1e-9
    unsure = RouterTarget(Router(engine, max_tokens=512, confidence_threshold=threshold), "unsure")
    [overridden] = asyncio.run(run_target(unsure, rows[:1]))
    assert overridden.decision.tool_use.tool_name == "ask_human" and overridden.confidence == {}


def test_threshold_replay_counts_what_it_fixes_and_breaks(tmp_path):
    from evaluation.threshold import load_rows, replay, table

    ask = _running("ask_human", question="which service do you mean?")
    search = _running("codebase_search", query="parse_config", mode="exact")
    rows = [TrainingExample(user_query="make it faster", output=ask),
            TrainingExample(user_query="find parse_config", output=search),
            TrainingExample(user_query="what is a mutex?", output=ANSWER),
            TrainingExample(user_query="delete prod", output=ask)]
    outcomes = [Outcome(search, 1.0, confidence={"status": 0.99, "tool_name": 0.62, "mode": 0.9}),  # vague, searched
                Outcome(search, 1.0, confidence={"status": 0.99, "tool_name": 0.99, "mode": 0.55}),  # right, unsure mode
                Outcome(ANSWER, 1.0, confidence={"status": 0.97}),
                Outcome(ask, 1.0)]  # overridden by the destructive guard: no confidence, left alone
    write_predictions(tmp_path / "p.jsonl", rows, outcomes)
    loaded = load_rows([tmp_path / "p.jsonl"])
    assert [r.right for r in (replay(loaded, t) for t in (0.5, 0.6, 0.7, 0.98))] == [3, 2, 3, 2]
    served = replay(loaded, 0.7)
    assert (served.fired, served.fixed, served.broken) == (2, 1, 1)
    assert replay(loaded, 0.7, keys=("status", "tool_name")) == type(served)(0.7, 1, 1, 0, 4)
    assert "| 0.7 | 2 | 1 | 1 | 3 (+0) |" in table(loaded)
