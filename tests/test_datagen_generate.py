"""The LLM generator against real local OpenAI-compatible HTTP servers (never a mock, never an API key)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from contract import TrainingExample
from datagen.generate import GeneratorConfig, generate, plan
from datagen.jsonl import read_rows
from tests.datagen_openai_server import ServerThread, build_app

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server():
    with ServerThread(build_app(delay_s=0.4)) as s:
        yield s


def _cfg(server, models, **kw) -> GeneratorConfig:
    base = dict(models=models, base_url=server.base_url, rows=12, batch_size=3, concurrency=2,
                requests_per_minute=6000, backoff_s=0.01, execute_code=False, seed=3,
                prices={m: (1.0, 2.0) for m in models})
    base.update(kw)
    return GeneratorConfig(**base)


def test_generates_valid_rows_with_roulette_retries_and_costs(server, tmp_path):
    out = tmp_path / "gen.jsonl"
    cfg = _cfg(server, ["openai/flaky", "openai/good"])
    report = generate(cfg, out, progress=False)
    rows = read_rows(out)
    assert report.jobs_planned == 4 and report.jobs_done == 4 and report.jobs_failed == 0
    assert len(rows) == 12 == report.rows_written
    for row in rows:
        TrainingExample.model_validate({k: v for k, v in row.items() if k != "meta"})
    # jobs that started on the failing model moved to the good one after a retry
    assert report.usage["openai/flaky"].failures >= 1
    assert {r["meta"]["model"] for r in rows} == {"openai/good"}
    good = report.usage["openai/good"]
    assert good.prompt_tokens == 120 * good.requests
    assert good.completion_tokens == 80 * 3 * good.requests
    assert good.cost_usd == pytest.approx((good.prompt_tokens * 1.0 + good.completion_tokens * 2.0) / 1e6)
    # the intents in the plan follow the target mix
    assert Counter(j.intent for j in plan(_cfg(server, ["x"], rows=1000, batch_size=1)))["search"] == 350


def test_invalid_output_is_rejected_not_written(server, tmp_path):
    out = tmp_path / "gen.jsonl"
    report = generate(_cfg(server, ["openai/broken"], rows=2, batch_size=1, max_attempts=2, validation_retries=1),
                      out, progress=False)
    assert report.jobs_failed == 2 and report.rows_written == 0
    assert report.errors["invalid structured output"] == 4
    assert not out.exists() or out.read_text() == ""


def test_rate_limit_spaces_requests(server, tmp_path):
    start = time.monotonic()
    generate(_cfg(server, ["openai/good"], rows=4, batch_size=1, concurrency=4, requests_per_minute=300),
             tmp_path / "gen.jsonl", progress=False)
    assert time.monotonic() - start >= 3 * 60 / 300 * 0.9  # 4 requests at 5/s need at least 0.6 s


def test_killed_run_resumes_without_gaps_or_duplicates(server, tmp_path):
    """SIGKILL a generating process mid-way, tear its last line, then resume to completion."""
    out = tmp_path / "gen.jsonl"
    cfg = _cfg(server, ["openai/slow"], rows=16, batch_size=2, concurrency=1, seed=5)
    # fork: the child shares the already-imported litellm (a fresh interpreter spends ~10 s importing it)
    child = multiprocessing.get_context("fork").Process(target=generate, args=(cfg, out), kwargs={"progress": False})
    child.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.exists() and out.read_text().count("\n") >= 4):
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    partial = read_rows(out)
    assert 4 <= len(partial) < 16, "the run should have been killed mid-way"
    with out.open("a") as f:  # a torn line, as a crash in the middle of a write would leave
        f.write('{"user_query": "half a row')
    report = generate(cfg, out, progress=False)
    assert report.jobs_skipped == len({r["meta"]["job"] for r in partial})
    rows = read_rows(out)
    jobs = Counter(r["meta"]["job"] for r in rows)
    assert sorted(jobs) == list(range(8)) and set(jobs.values()) == {2}
    assert len({r["user_query"] for r in rows}) == 16
    assert rows[: len(partial)] == partial  # nothing written before the crash was lost or rewritten


def test_cli_generate_and_resume_is_a_no_op_when_done(server, tmp_path):
    from typer.testing import CliRunner

    from datagen.cli import app

    out, rep = tmp_path / "gen.jsonl", tmp_path / "report.json"
    args = ["generate", "--model", "openai/good", "--base-url", server.base_url, "--rows", "4", "--batch-size", "2",
            "--no-execute", "--no-progress", "--out", str(out), "--report", str(rep), "--price", "openai/good=0.5,1.5"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert json.loads(rep.read_text())["rows_written"] == 4
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert json.loads(rep.read_text())["jobs_skipped"] == 2 and len(read_rows(out)) == 4


def test_cli_refuses_missing_key_variable(tmp_path):
    from typer.testing import CliRunner

    from datagen.cli import app

    result = CliRunner().invoke(app, ["generate", "--model", "openai/x", "--api-key-env", "DATAGEN_NO_SUCH_VAR",
                                      "--out", str(tmp_path / "o.jsonl")], env={"DATAGEN_NO_SUCH_VAR": ""})
    assert result.exit_code == 2
    assert "DATAGEN_NO_SUCH_VAR is not set" in result.output


@pytest.mark.slow
def test_real_llama_cpp_server_accounts_tokens_and_rejects_what_does_not_validate(llama_cpp_server, tmp_path):
    """SmolLM2-135M cannot write a valid example in 24 tokens: the request is real, its tokens are
    counted, the failure is a value in the report, and nothing invalid reaches the file."""
    out = tmp_path / "gen.jsonl"
    cfg = GeneratorConfig(models=["openai/smollm2"], base_url=llama_cpp_server, rows=1, batch_size=1, concurrency=1,
                          max_tokens=24, temperature=0.0, max_attempts=1, validation_retries=0, timeout_s=60,
                          execute_code=False)
    report = generate(cfg, out, progress=False)
    usage = report.usage["openai/smollm2"]
    assert usage.requests == 1
    assert report.jobs_failed == 1 and report.rows_written == 0
    assert sum(report.errors.values()) == 1
    assert usage.prompt_tokens > 200 and 0 < usage.completion_tokens <= 24
    assert not out.exists() or read_rows(out) == []
