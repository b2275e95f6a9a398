"""meta.confidence: the model's probability for each choice, read off logits it already computed."""

from __future__ import annotations

import asyncio

import numpy as np

from contract import build_messages, dump_decision, grammar_json_schema, parse_decision
from service.engines import GenerationRequest
from service.engines.llamacpp import _BranchWatch
from service.routing import CONFIDENCE_KEYS, Router


def test_sampled_branch_gets_the_softmax_probability_of_the_chosen_token():
    watch = _BranchWatch(("status",))
    watch.forced(b'{"status":"')
    logits = np.array([np.log(3.0), 0.0, -np.inf, 0.0])  # allowed: 3/5, 1/5, 1/5
    watch.sampled(b"running", logits, 0)
    assert abs(watch.confidence["status"] - 0.6) < 1e-9
    watch.sampled(b'","', logits, 1)  # later steps are not branching points
    assert abs(watch.confidence["status"] - 0.6) < 1e-9


def test_a_value_the_grammar_forced_is_certain():
    watch = _BranchWatch(("tool_name", "mode"))
    watch.forced(b'{"tool_name":"ask_human","arguments":{')  # marker and value in one batch
    assert watch.confidence == {"tool_name": 1.0}
    watch.forced(b'"mode":"')
    watch.forced(b"exact")  # the value alone, forced right after its marker
    assert watch.confidence["mode"] == 1.0


def test_engine_reports_confidence_at_no_extra_step(engine):
    request = GenerationRequest(
        build_messages("where is the User class defined?"), grammar_json_schema(), 256, confidence_keys=CONFIDENCE_KEYS
    )
    generation = engine.generate_sync(request)
    status = parse_decision(generation.text).status
    assert 0.0 < generation.confidence["status"] <= 1.0, (status, generation.confidence)
    forced_schema = {"type": "object", "properties": {"status": {"const": "running"}}, "required": ["status"],
                     "additionalProperties": False}
    forced = engine.generate_sync(GenerationRequest(build_messages("x"), forced_schema, 16, confidence_keys=("status",)))
    assert forced.confidence == {"status": 1.0}


def test_low_confidence_becomes_ask_human(engine):
    router = Router(engine, max_tokens=256, confidence_threshold=0.999)
    result = asyncio.run(router.route("what is a mutex?"))
    assert result.low_confidence
    assert result.decision.tool_use.tool_name == "ask_human"
    assert "low confidence" in result.decision.tool_use.arguments.context
    parse_decision(dump_decision(result.decision))  # still a valid decision
    assert not asyncio.run(Router(engine, max_tokens=256).route("what is a mutex?")).low_confidence
