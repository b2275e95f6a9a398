"""POST /route over real HTTP against a real server: valid decisions, and clean 4xx for bad input."""

from __future__ import annotations

import httpx
import pytest

from contract import validate_decision


@pytest.fixture(scope="module")
def client(live_server):
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        yield http


def test_health_and_ready(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["ready"] is True and ready["engine"] == "llamacpp"
    assert ready["adapter"] == "router-smollm2"  # the shipped adapter is the default


def test_thirty_varied_requests_return_valid_decisions(client, queries):
    for query in queries[:30]:
        response = client.post("/route", json={"query": query})
        assert response.status_code == 200, response.text
        body = response.json()
        meta = body.pop("meta")
        validate_decision(body)
        assert meta["completion_tokens"] > 0 and meta["prompt_tokens"] > 0 and meta["latency_ms"] > 0
        assert "adapter" in meta and meta["model"]
        assert 0 < meta["confidence"]["status"] <= 1 and meta["low_confidence"] is False
        assert {"destructive", "unnamed_path", "repaired_copy", "unseen_context"} <= set(meta)  # every guard's flag


def test_reasoning_off_leaves_the_thought_out(client):
    body = client.post("/route", json={"query": "where is parse_config defined?", "reasoning": False}).json()
    body.pop("meta")
    assert "thought" not in body
    validate_decision(body, reasoning=False)


def test_a_spelled_out_removal_is_the_patch_the_user_wrote(client):
    """The removal cue keeps the model to a patch, the copy repair makes it the quoted span into nothing (the
    verb is Vietnamese), and the destructive guard lets that spelled-out edit through."""
    query = "xóa dòng `console.log('DEBUG roast', batch)` trong apps/web/src/pages/roast/detail.tsx giúp em"
    body = client.post("/route", json={"query": query}).json()
    assert body["meta"]["question_cue"] == "removal" and not body["meta"]["destructive"]
    assert body["tool_use"] == {"tool_name": "file_manager", "arguments": {
        "operation": "patch", "path": "apps/web/src/pages/roast/detail.tsx",
        "target_string": "console.log('DEBUG roast', batch)", "replacement_string": ""}}


def test_a_comparison_of_two_public_names_is_answered(client):
    body = client.post("/route", json={"query": "¿qué diferencia hay entre process.nextTick y setImmediate?"}).json()
    assert body["meta"]["question_cue"] == "general" and body["status"] == "complete" and body["final_answer"]
    assert 'router_question_cues_total{cue="general"}' in client.get("/metrics").text


def test_context_is_accepted(client):
    response = client.post("/route", json={"query": "what does this do?", "context": "def f(): return 1"})
    assert response.status_code == 200


BAD_BODIES = {
    "missing query": ({}, 422, "query"),
    "empty query": ({"query": ""}, 422, "query"),
    "blank query": ({"query": "  \n "}, 422, "query"),
    "query not a string": ({"query": 42}, 422, "query"),
    "reasoning not a bool": ({"query": "x", "reasoning": "yes"}, 422, "reasoning"),
    "unknown field": ({"query": "x", "temperature": 1}, 422, "temperature"),
    "query too long": ({"query": "x" * 8001}, 422, "query"),
    "body not an object": ([{"query": "x"}], 422, None),
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_bad_bodies_get_a_4xx_naming_the_problem(client, name):
    body, status, param = BAD_BODIES[name]
    response = client.post("/route", json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
    if param:
        assert error["param"] == param and param in error["message"]


def test_non_json_body(client):
    response = client.post("/route", content=b"{query: nope", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["error"]["message"]


def test_body_over_64_kib_is_413_with_or_without_content_length(client):
    big = b'{"query": "' + b"x" * 70_000 + b'"}'
    response = client.post("/route", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "limit" in response.json()["error"]["message"]

    def chunks():  # no Content-Length: the limit must hold while the body streams in
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    response = client.post("/route", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and "limit" in response.json()["error"]["message"]


def test_unknown_path_and_wrong_method_are_json(client):
    assert client.get("/nope").json()["error"]["type"] == "not_found_error"
    response = client.get("/route")
    assert response.status_code == 405 and response.json()["error"]["message"]


def test_metrics_count_requests_and_decisions(client):
    client.post("/route", json={"query": "what is a mutex?"})
    text = client.get("/metrics").text
    assert 'router_http_requests_total{endpoint="/route",method="POST",status="200"}' in text
    assert "router_decisions_total{" in text
    assert "router_http_request_duration_seconds_bucket" in text
    assert "router_ready 1.0" in text


def test_v1_models_lists_the_base_and_the_shipped_adapter(client):
    models = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
    base = client.get("/ready").json()["model"]
    assert models["router-smollm2"]["parent"] == base and base in models
