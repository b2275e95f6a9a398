"""`router eval` in-process builds the router `router serve` would (Router.from_settings): the same guards,
the same decision prior default, the same refusals of bad settings; scored on the real embedded model."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from evaluation.cli import app
from service.settings import SHIPPED_ADAPTER, SHIPPED_PRIOR

ROWS = [
    {"user_query": "where is the User class defined?", "output": {
        "status": "running", "thought": "A class name is the only anchor, so an exact search finds it",
        "tool_use": {"tool_name": "codebase_search", "arguments": {"query": "class User", "mode": "exact"}}}},
    {"user_query": "what is 1234 * 5678?", "output": {
        "status": "running", "thought": "Arithmetic is computed, not recalled, so run it in the sandbox",
        "tool_use": {"tool_name": "sandbox_exec", "arguments": {"code": "print(1234 * 5678)", "timeout": 5}}}},
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("eval") / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    return path


def _eval(data, out, *args: str):
    result = CliRunner().invoke(app, ["--data", str(data), "--no-baseline", "--threads", "1", "--out", str(out), *args])
    meta = json.loads((out / "report.json").read_text())["meta"] if result.exit_code == 0 else None
    return result, meta


def test_the_served_default_is_what_eval_scores(data, tmp_path):
    result, meta = _eval(data, tmp_path / "served")
    assert result.exit_code == 0, result.output
    assert meta["adapter"] == str(SHIPPED_ADAPTER.relative_to(SHIPPED_ADAPTER.parents[2]))
    assert meta["decision_prior"] == str(SHIPPED_PRIOR.relative_to(SHIPPED_PRIOR.parents[2]))
    assert all(meta[guard] for guard in ("destructive_guard", "path_guard", "scope_guard", "mode_rule", "copy_repair"))
    predictions = (tmp_path / "served" / "predictions-adapter.jsonl").read_text().splitlines()
    assert len(predictions) == len(ROWS) and all(json.loads(line)["predicted"] for line in predictions)


def test_the_base_model_alone_gets_no_prior_unless_one_is_named(data, tmp_path):
    result, meta = _eval(data, tmp_path / "base", "--no-adapter", "--no-copy-repair", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert meta["adapter"] is None and meta["decision_prior"] is None and meta["copy_repair"] is False
    result, meta = _eval(data, tmp_path / "named", "--no-adapter", "--prior", str(SHIPPED_PRIOR), "--limit", "1")
    assert result.exit_code == 0 and meta["decision_prior"] is not None


@pytest.mark.parametrize(("args", "named"), [
    (["--adapter", "no/such/adapter.gguf"], "ROUTER_ADAPTER_PATH"),
    (["--prior-weight", "-1"], "ROUTER_DECISION_PRIOR_WEIGHT"),
])
def test_a_bad_option_exits_2_naming_the_setting(data, tmp_path, args, named):
    result, _ = _eval(data, tmp_path / "bad", *args)
    assert result.exit_code == 2 and named in result.output
