"""The decision prior: MiniLM's class probabilities multiplied into the model's at status and tool_name."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest

from contract import build_messages, grammar_json_schema, parse_decision
from service.decision_prior import DecisionPrior, PriorError
from service.engines import GenerationRequest
from service.engines.llamacpp import _BranchWatch
from service.routing import CONFIDENCE_KEYS, Router
from service.settings import SHIPPED_PRIOR, load_settings
from tests.hardening_fakes import RecordingEngine

ROOT = Path(__file__).resolve().parents[1]
PIECES = {0: b"running", 1: b"comp", 2: b"lete", 3: b'complete"', 4: b"x"}


def _watch(prior):
    return _BranchWatch(("status",), prior, lambda ids: b"".join(PIECES[i] for i in ids))


def test_steer_adds_each_values_weight_to_the_tokens_that_start_it():
    watch = _watch({"status": {"running": -1.0, "complete": -3.0}})
    watch.forced(b'{"status":"')
    logits = np.array([0.0, 0.0, -np.inf, 0.0, 0.0])
    watch.steer(logits)
    # "running" and the tokens that start "complete" (a prefix, or the value and what follows it) move;
    # a token that starts neither value and a token the grammar masked stay as they were.
    assert logits.tolist() == [-1.0, -3.0, -np.inf, -3.0, 0.0]


def test_a_prior_still_being_computed_is_waited_for_at_the_first_branch_only():
    pending: Future = Future()
    watch = _watch(pending)
    logits = np.zeros(5)
    watch.steer(logits)  # no branching point yet: nothing to wait for
    pending.set_result({"status": {"running": -1.0, "complete": -3.0}})
    watch.forced(b'{"status":"')
    watch.steer(logits)
    assert logits.tolist() == [-1.0, -3.0, 0.0, -3.0, 0.0]  # "lete" starts neither value


def test_steer_does_nothing_away_from_a_branch_or_without_a_prior():
    watch = _watch({"status": {"running": -1.0, "complete": -3.0}})
    logits = np.zeros(5)
    watch.steer(logits)  # no `"status":"` yet
    assert not logits.any()
    bare = _watch({})
    bare.forced(b'{"status":"')
    bare.steer(logits)
    assert not logits.any()


def test_a_prefix_shared_by_two_values_gets_their_summed_weight():
    watch = _BranchWatch(("mode",), {"mode": {"exact": np.log(0.2), "extra": np.log(0.3)}}, lambda ids: b"ex")
    watch.forced(b'"mode":"')
    logits = np.zeros(1)
    watch.steer(logits)
    assert logits[0] == pytest.approx(np.log(0.5))


def test_the_engine_decides_with_the_prior_added(engine):
    """A prior strong enough to outvote the model sets the branch, and the decision follows it."""
    messages = build_messages("where is the User class defined?")
    schema = grammar_json_schema()

    def decide(prior):
        request = GenerationRequest(messages, schema, 256, confidence_keys=CONFIDENCE_KEYS, branch_prior=prior)
        generation = engine.generate_sync(request)
        return parse_decision(generation.text)

    # Both ways, so whatever the model would choose alone, one of them outvotes it.
    assert decide({"status": {"running": -40.0, "complete": 0.0}}).status == "complete"
    assert decide({"status": {"running": 0.0, "complete": -40.0}}).status == "running"
    sandboxed = decide({"status": {"running": 0.0, "complete": -40.0},
                                    "tool_name": {"codebase_search": -40.0, "file_manager": -40.0,
                                                  "sandbox_exec": 0.0, "ask_human": -40.0}})
    assert sandboxed.status == "running" and sandboxed.tool_use.tool_name == "sandbox_exec"


@pytest.fixture(scope="module")
def shipped() -> DecisionPrior:
    assert SHIPPED_PRIOR.is_file(), "models/router-smollm2/prior.npz is missing: `router train prior` writes it"
    return DecisionPrior(SHIPPED_PRIOR, 1.0)


@pytest.mark.parametrize(("query", "expected"), [
    ("what is 1234 * 5678?", "sandbox_exec"),
    ("open src/billing/invoice.py", "file_manager"),
    ("what is the difference between a process and a thread?", "answer"),
    ("where do we validate the JWT audience claim?", "codebase_search"),
])
def test_the_shipped_prior_knows_clear_cut_requests(shipped, query, expected):
    probabilities = shipped.probabilities(query)
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert max(probabilities, key=probabilities.get) == expected, probabilities


def test_branch_weights_are_the_weighted_log_probabilities(shipped):
    query = "fix it"
    p = shipped.probabilities(query)
    weights = shipped.branch_weights(query)
    assert weights["status"]["complete"] == pytest.approx(np.log(p["answer"]), abs=1e-5)
    tools = {t: np.exp(w) for t, w in weights["tool_name"].items()}
    assert sum(tools.values()) == pytest.approx(1.0, abs=1e-4)  # p(tool | not an answer)
    doubled = DecisionPrior(SHIPPED_PRIOR, 2.0).branch_weights(query)
    assert doubled["tool_name"]["ask_human"] == pytest.approx(2 * weights["tool_name"]["ask_human"], abs=1e-5)
    json.dumps(weights)  # plain floats


def test_a_file_that_is_not_a_prior_is_refused_by_name(tmp_path):
    broken = tmp_path / "prior.npz"
    broken.write_bytes(b"not a numpy archive")
    with pytest.raises(PriorError, match="prior.npz.*router train prior"):
        DecisionPrior(broken, 1.0)
    wrong = tmp_path / "wrong.npz"
    with wrong.open("wb") as file:
        np.savez(file, weights=np.zeros((384, 2)), bias=np.zeros(2), classes=np.array(["a", "b"]), meta=np.array("{}"))
    with pytest.raises(PriorError, match="five decisions"):
        DecisionPrior(wrong, 1.0)


def test_the_router_hands_the_engine_the_priors_weights_for_the_query(shipped):
    """As a Future: MiniLM embeds the query while the engine prefills the prompt."""
    recorder = RecordingEngine()
    asyncio.run(Router(recorder, max_tokens=64, prior=shipped).route("what is 1234 * 5678?"))
    pending = recorder.requests[-1].branch_prior
    assert isinstance(pending, Future)
    assert pending.result(timeout=30) == shipped.branch_weights("what is 1234 * 5678?")
    asyncio.run(Router(recorder, max_tokens=64, prior=DecisionPrior(SHIPPED_PRIOR, 0.0)).route("x y"))
    asyncio.run(Router(recorder, max_tokens=64).route("x y"))
    assert recorder.requests[-2].branch_prior == {} and recorder.requests[-1].branch_prior == {}


def test_settings_default_to_the_shipped_prior_and_none_turns_it_off(monkeypatch):
    assert load_settings().decision_prior_path == SHIPPED_PRIOR
    # The base model alone gets no prior unless one is named: the shipped one was chosen with the adapter.
    assert load_settings(adapter_path="none").decision_prior_path is None
    assert load_settings(adapter_path="none", decision_prior_path=SHIPPED_PRIOR).decision_prior_path == SHIPPED_PRIOR
    monkeypatch.setenv("ROUTER_DECISION_PRIOR_PATH", "none")
    assert load_settings().decision_prior_path is None


def test_fit_prior_is_deterministic_and_learns_the_training_split(tmp_path):
    from training.prior import train_prior

    rows = (ROOT / "data" / "router" / "train.jsonl").read_text().splitlines()[:300]
    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(rows) + "\n")
    first = train_prior(data, tmp_path / "a.npz")
    train_prior(data, tmp_path / "b.npz")
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    assert np.array_equal(a["weights"], b["weights"]) and np.array_equal(a["bias"], b["bias"])
    assert first["rows"] == 300 and first["train_accuracy"] > 0.9, first
    loaded = DecisionPrior(tmp_path / "a.npz", 1.0)
    assert loaded.meta["rows"] == 300 and loaded.meta["embedder"] == "all-MiniLM-L6-v2"
    more = tmp_path / "more.jsonl"
    more.write_text("\n".join(rows[:20]) + "\n")
    both = train_prior(data, tmp_path / "c.npz", also=[more])
    assert both["rows"] == 320 and both["data"] == f"{data} + {more}"



def test_a_row_weight_counts_a_row_as_often_as_repeating_it():
    """`router train prior --also-weight k` counts each extra row k times: the same classifier as the rows
    written k times over."""
    from evaluation.metrics import LABELS
    from training.prior import fit_prior

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels = [LABELS[i % len(LABELS)] for i in range(60)]
    weighted = fit_prior(x, labels, row_weights=[1.0] * 40 + [3.0] * 20)
    repeated = fit_prior(np.concatenate([x, x[40:], x[40:]]), labels + labels[40:] * 2)
    unweighted = fit_prior(x, labels)
    assert np.allclose(weighted[0], repeated[0], atol=1e-4) and np.allclose(weighted[1], repeated[1], atol=1e-4)
    assert not np.allclose(weighted[0], unweighted[0], atol=0.1)

class _LlamaCppRecorder(RecordingEngine):
    name = "llamacpp"


def test_every_in_process_router_is_built_as_served():
    """`router serve`, `router route` and `router bench` share Router.from_settings: guards and prior included
    (the prior only over the engine that applies it)."""
    router = Router.from_settings(_LlamaCppRecorder(), load_settings())
    assert router.destructive_guard and router.path_guard and router.scope_guard and router.mode_rule
    assert router.prior is not None and router.prior.path == SHIPPED_PRIOR and router.prior.weight == 2.0
    assert Router.from_settings(_LlamaCppRecorder(), load_settings(decision_prior_weight=0)).prior is None
    assert Router.from_settings(_LlamaCppRecorder(), load_settings(decision_prior_path="none")).prior is None
    assert Router.from_settings(RecordingEngine(), load_settings()).prior is None  # an engine that ignores it


def test_the_service_stops_the_priors_thread_when_it_stops():
    """`router serve` warns about any thread still alive at exit; the prior's must not be one."""
    import threading
    import time

    from fastapi.testclient import TestClient

    from service.app import create_app
    from tests.hardening_fakes import FakeEngine

    class LlamaCppFake(FakeEngine):
        name = "llamacpp"

    def started_here() -> list[threading.Thread]:  # other tests' priors may have threads of their own
        return [t for t in threading.enumerate() if t.name.startswith("decision-prior") and t not in before]

    before = set(threading.enumerate())
    with TestClient(create_app(load_settings(), engine=LlamaCppFake(delay=0))) as client:
        for _ in range(100):
            if client.get("/ready").status_code == 200:
                break
            time.sleep(0.1)
        client.post("/route", json={"query": "what is 2 + 2?"})
        assert started_here()
    for thread in started_here():
        thread.join(timeout=5)
    assert not started_here()
