"""The chat serving logic's parts without HTTP: schemas, stream deltas, and the engine's stream."""

from __future__ import annotations

import asyncio
import json
import time

import jsonschema
import pytest
from pydantic import BaseModel

from contract import build_messages, grammar_json_schema, parse_decision
from service.chat import Plan, _DeltaParser, closed, decision_schema, finish, functions_schema, schema_problem
from service.engines import Engine, EngineError, Generation, GenerationRequest
from service.openai_protocol import NamedToolChoice, Tool


def _plan(mode: str) -> Plan:
    return Plan(mode, GenerationRequest([], None, 10), "m")


def _named(name: str) -> NamedToolChoice:
    return NamedToolChoice.model_validate({"type": "function", "function": {"name": name}})


RUNNING = (
    '{"status":"running","thought":"Search the code for the class definition caf\\u00e9 \\"now\\"",'
    '"tool_use":{"tool_name":"codebase_search",'
    '"arguments":{"query":"class User \\ud83e\\udd80","mode":"exact"}}}'
)
COMPLETE = '{"status":"complete","final_answer":"A mutex \\"locks\\" \\u00e9 🦀\\nend"}'


def test_decision_schema_narrows_to_what_tool_choice_allows():
    full = decision_schema(("codebase_search", "file_manager", "sandbox_exec", "ask_human"), None)
    assert full == grammar_json_schema()
    jsonschema.validate(parse_decision(RUNNING).model_dump(mode="json", exclude_none=True), full)
    only_answer = decision_schema(("codebase_search",), "none")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {
                "status": "running",
                "thought": "a b c d e f",
                "tool_use": {"tool_name": "codebase_search", "arguments": {"query": "x"}},
            },
            only_answer,
        )
    named = decision_schema(("codebase_search", "ask_human"), _named("ask_human"))
    jsonschema.validate(
        {
            "status": "running",
            "thought": "a b c d e f",
            "tool_use": {"tool_name": "ask_human", "arguments": {"question": "which?"}},
        },
        named,
    )
    for wrong in (
        {"status": "complete", "final_answer": "x"},
        {
            "status": "running",
            "thought": "a b c d e f",
            "tool_use": {"tool_name": "codebase_search", "arguments": {"query": "x"}},
        },
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, named)
    assert schema_problem(named) is None


class Address(BaseModel):
    city: str


class Person(BaseModel):
    name: str
    home: Address
    friends: list[Person] = []


def test_functions_schema_keeps_references_of_nested_models_working():
    tools = [
        Tool.model_validate(
            {"type": "function", "function": {"name": n, "parameters": Person.model_json_schema()}}
        )
        for n in ("a", "b")
    ]
    schema = functions_schema(tools, allow_content=True)
    assert schema_problem(schema) is None
    person = {
        "name": "x",
        "home": {"city": "y"},
        "friends": [{"name": "z", "home": {"city": "w"}, "friends": []}],
    }
    jsonschema.validate({"name": "b", "arguments": person}, schema)
    jsonschema.validate({"content": "hello"}, schema)
    for wrong in (
        {"name": "c", "arguments": person},
        {"name": "a", "arguments": {**person, "extra": 1}},
        {"name": "a", "arguments": {"name": "x", "home": {}}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, schema)


def test_closed_forbids_unlisted_keys_only_where_the_schema_was_silent():
    schema = {
        "type": "object",
        "properties": {"a": {"type": "object", "properties": {}}},
        "additionalProperties": True,
    }
    assert closed(schema) == {
        "type": "object",
        "additionalProperties": True,
        "properties": {"a": {"type": "object", "properties": {}, "additionalProperties": False}},
    }


@pytest.mark.parametrize(
    ("schema", "path", "words"),
    [
        ({"type": "object", "properties": {"a": {"type": "strin"}}}, ".properties.a", "strin"),
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/X"}}}, ".properties.a", "does not exist"),
        (
            {
                "$defs": {"X": {"type": "string", "pattern": "(("}},
                "type": "object",
                "properties": {"a": {"$ref": "#/$defs/X"}},
            },
            "",
            "unclosed group",
        ),
        (
            {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer", "minimum": "x"}]}},
            ".items.anyOf[1]",
            "minimum",
        ),
        ([1], "", "must be an object"),
    ],
)
def test_schema_problem_names_the_broken_part(schema, path, words):
    found_path, message = schema_problem(schema)
    assert found_path.endswith(path) and words in message


@pytest.mark.parametrize(
    ("mode", "text"),
    [
        ("router", RUNNING),
        ("router", COMPLETE),
        ("functions", '{"name":"get_weather","arguments":{"city":"Par\\u00eds","tags":["a","}"]}}'),
        ("functions", '{"content":"hello \\"you\\"\\n 🦀"}'),
        ("json", '{"a":[1,2]}'),
    ],
)
def test_stream_deltas_add_up_to_the_finished_reply(mode, text):
    """Fed one character at a time, the deltas spell exactly what the non-streamed reply holds."""
    parser = _DeltaParser(_plan(mode))
    deltas = [d for char in text for d in parser.feed(char)]
    reply = finish(_plan(mode), Generation(text, 1, 1, "stop"))
    streamed = deltas[:]
    deltas += parser.close(reply)
    joined = {"content": "", "reasoning_content": "", "arguments": ""}
    names = []
    for delta in deltas:
        for key in ("content", "reasoning_content"):
            joined[key] += delta.get(key, "")
        for call in delta.get("tool_calls", []):
            joined["arguments"] += call["function"].get("arguments", "")
            names += [call["function"]["name"]] if "name" in call["function"] else []
    assert joined["content"] == (reply.content or "")
    assert joined["reasoning_content"] == (reply.reasoning or "")
    if reply.tool_call:
        assert names == [reply.tool_call.function.name]
        assert joined["arguments"] == reply.tool_call.function.arguments
    assert len(streamed) > 3, "the parts arrive as they are generated, not at the end"


# --- the engine's stream (real model) ---------------------------------------------------------------


def _drain(engine, request):
    async def main():
        pieces, final, first = [], None, None
        started = time.perf_counter()
        async for item in engine.stream(request):
            if isinstance(item, Generation):
                final = item
            else:
                first = first or time.perf_counter() - started
                pieces.append(item)
        return pieces, final, first, time.perf_counter() - started

    return asyncio.run(main())


@pytest.mark.parametrize("schema", [grammar_json_schema(), None])
def test_engine_stream_spells_what_generate_returns(engine, schema):
    request = GenerationRequest(
        build_messages("reply with an emoji 🦀 and the word café"), schema, max_tokens=40
    )
    whole = engine.generate_sync(request)
    pieces, final, first, total = _drain(engine, request)
    assert "".join(pieces) == whole.text == final.text
    assert "\ufffd" not in "".join(pieces[:-1]), "no character is split across pieces"
    assert (final.completion_tokens, final.finish_reason) == (whole.completion_tokens, whole.finish_reason)
    assert len(pieces) > 3 and first < total


def test_engine_stream_closed_early_frees_the_model(engine):
    request = GenerationRequest(build_messages("tell me a long story"), None, max_tokens=400, ignore_eos=True)

    async def main():
        stream = engine.stream(request)
        async for _ in stream:
            break
        await stream.aclose()

    asyncio.run(main())
    deadline = time.monotonic() + 5
    while engine.busy_slots() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine.busy_slots() == 0, "the scheduler let go of the sequence at its next step"
    assert engine._lock.acquire(timeout=5)
    try:
        prompt = engine.tokenize_prompt(request.messages)
        evaluated = max(len(slot.tokens) for slot in engine._scheduler.slots if slot.tokens[: len(prompt)] == prompt)
        assert evaluated < len(prompt) + 50
    finally:
        engine._lock.release()


def test_engine_stream_raises_request_errors_before_the_first_piece(engine):
    request = GenerationRequest(build_messages("hi " * 5000), None, max_tokens=5)

    async def main():
        async for _ in engine.stream(request):
            pass

    with pytest.raises(ValueError, match="context window"):
        asyncio.run(main())


# --- models and adapters (a hand-written engine: no real LoRA adapter ships with the project) ---------


class _AdapterEngine(Engine):
    """Answers every request with one fixed decision and records what it was asked."""

    name = "fake"
    model_name = "base-model"

    def __init__(self) -> None:
        self.requests: list[GenerationRequest] = []

    def adapters(self) -> dict[str, str]:
        return {"router-lora": "/adapters/router-lora.gguf"}

    async def generate(self, request: GenerationRequest) -> Generation:
        self.requests.append(request)
        return Generation('{"status":"complete","final_answer":"ok"}', 10, 5, "stop")


def test_models_list_adapters_with_their_parent_and_requests_select_them():
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import load_settings

    engine = _AdapterEngine()
    with TestClient(create_app(load_settings(), engine=engine)) as http:
        for _ in range(100):
            if http.get("/ready").status_code == 200:
                break
            time.sleep(0.05)
        cards = {card["id"]: card for card in http.get("/v1/models").json()["data"]}
        assert cards["base-model"]["parent"] is None
        assert cards["router-lora"]["parent"] == "base-model"
        assert cards["router-lora"]["root"] == "/adapters/router-lora.gguf"
        for model, adapter in (("router-lora", "router-lora"), ("base-model", None)):
            body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
            reply = http.post("/v1/chat/completions", json=body).json()
            assert reply["choices"][0]["message"]["content"] == "ok" and reply["model"] == model
            assert engine.requests[-1].adapter == adapter
        missing = http.post("/v1/chat/completions", json={**body, "model": "other"})
        assert missing.status_code == 404 and "router-lora" in missing.json()["error"]["message"]


class _FailingStreamEngine(_AdapterEngine):
    async def stream(self, request: GenerationRequest):
        yield '{"status":"complete","final_answer":"par'
        raise EngineError("the backend went away")


def test_a_failure_after_the_first_piece_is_an_error_event_then_done():
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import load_settings

    with TestClient(create_app(load_settings(), engine=_FailingStreamEngine())) as http:
        for _ in range(100):
            if http.get("/ready").status_code == 200:
                break
            time.sleep(0.05)
        body = {"model": "base-model", "messages": [{"role": "user", "content": "hi"}], "stream": True}
        with http.stream("POST", "/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
            lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert '"content":"par"' in lines[1]
    assert '"error"' in lines[-2] and "the backend went away" in lines[-2]


def test_output_steered_closed_at_the_token_budget_is_reported_as_length():
    generation = Generation('{"status":"complete","final_answer":"a long answ"}', 10, 5, "stop")
    assert finish(_plan("router"), generation).finish_reason == "stop"
    generation.truncated = True  # set by engines that close the JSON early as the budget runs out
    reply = finish(_plan("router"), generation)
    assert (reply.content, reply.finish_reason) == ("a long answ", "length")


# --- the served guards in router mode (a hand-written engine that decides what the model would) -------


class _DecidingEngine(_AdapterEngine):
    """Decides every request with one given decision, streamed a character at a time."""

    def __init__(self, decision: str) -> None:
        super().__init__()
        self.decision = decision

    async def generate(self, request: GenerationRequest) -> Generation:
        self.requests.append(request)
        return Generation(self.decision, 10, 5, "stop")

    async def stream(self, request: GenerationRequest):
        generation = await self.generate(request)
        for char in generation.text:
            yield char
        yield generation


RM_BUILD = ('{"status":"running","thought":"Removing the folder is one shell command to run.",'
            '"tool_use":{"tool_name":"sandbox_exec","arguments":{"code":"import shutil; shutil.rmtree(\'build\')"}}}')


def _chat(engine: Engine, body: dict, **settings) -> tuple[dict | list[str], object]:
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import load_settings

    app = create_app(load_settings(**settings), engine=engine)
    with TestClient(app) as http:
        for _ in range(100):
            if http.get("/ready").status_code == 200:
                break
            time.sleep(0.05)
        body = {"model": "base-model", **body}
        if not body.get("stream"):
            return http.post("/v1/chat/completions", json=body).json(), http.get("/metrics").text
        with http.stream("POST", "/v1/chat/completions", json=body) as response:
            return [line for line in response.iter_lines() if line], http.get("/metrics").text


def _streamed_call(lines: list[str]) -> tuple[list[str], str, list[dict]]:
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines if line != "data: [DONE]"]
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks if chunk.get("choices")]
    calls = [call for delta in deltas for call in delta.get("tool_calls", [])]
    names = [call["function"]["name"] for call in calls if call["function"].get("name")]
    return names, "".join(call["function"].get("arguments", "") for call in calls), deltas


def test_chat_router_mode_asks_before_a_destructive_tool_call_as_route_does():
    body = {"messages": [{"role": "user", "content": "delete the build folder"}]}
    reply, metrics = _chat(_DecidingEngine(RM_BUILD), body)
    call = reply["choices"][0]["message"]["tool_calls"][0]["function"]
    assert call["name"] == "ask_human" and "destructive" in call["arguments"].lower()
    assert "router_destructive_overrides_total 1.0" in metrics


def test_chat_stream_holds_a_tool_call_until_it_is_guarded():
    """Nothing of the model's sandbox call may reach the client: the stream sends the guarded call whole."""
    body = {"messages": [{"role": "user", "content": "delete the build folder"}], "stream": True}
    lines, _ = _chat(_DecidingEngine(RM_BUILD), body)
    names, arguments, deltas = _streamed_call(lines)
    assert names == ["ask_human"] and "question" in json.loads(arguments)  # the model's call is only its context
    assert not any("Removing the folder" in d.get("reasoning_content", "") for d in deltas)
    plain, _ = _chat(_DecidingEngine(RM_BUILD), {**body, "stream": False})
    assert arguments == plain["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]


def test_chat_guards_leave_a_decision_alone_where_the_request_forbids_ask_human():
    """tool_choice names sandbox_exec: the client constrained the call, and the router does not swap in a tool
    the client ruled out (running the call is the client's explicit choice, as with /v1/tools/execute)."""
    body = {"messages": [{"role": "user", "content": "delete the build folder"}],
            "tools": [{"type": "function", "function": {"name": "sandbox_exec"}}],
            "tool_choice": {"type": "function", "function": {"name": "sandbox_exec"}}}
    reply, _ = _chat(_DecidingEngine(RM_BUILD), body)
    assert reply["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "sandbox_exec"


def test_chat_router_mode_drops_an_invented_scope_and_asks_for_an_unnamed_file():
    search = ('{"status":"running","thought":"Look for the class in the PHP sources.","tool_use":{"tool_name":'
              '"codebase_search","arguments":{"query":"class User","mode":"hybrid","file_pattern":"**/*.php"}}}')
    body = {"messages": [{"role": "user", "content": "where is the User class defined?"}], "stream": True}
    names, arguments, _ = _streamed_call(_chat(_DecidingEngine(search), body)[0])
    assert names == ["codebase_search"] and "file_pattern" not in arguments and '"mode":"exact"' in arguments
    read = ('{"status":"running","thought":"The settings live in the config module.","tool_use":{"tool_name":'
            '"file_manager","arguments":{"operation":"read","path":"config/settings.py"}}}')
    body = {"messages": [{"role": "user", "content": "show me the settings"}]}
    reply, metrics = _chat(_DecidingEngine(read), body)
    assert reply["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "ask_human"
    assert "router_unnamed_path_overrides_total 1.0" in metrics


def test_chat_streams_a_plain_answer_live_and_holds_one_to_a_destructive_command():
    answer = '{"status":"complete","final_answer":"A mutex lets one thread at a time into a section."}'
    body = {"messages": [{"role": "user", "content": "what is a mutex?"}], "stream": True}
    _, _, deltas = _streamed_call(_chat(_DecidingEngine(answer), body)[0])
    assert sum(bool(d.get("content")) for d in deltas) > 3, "a plain answer streams as it comes"
    body = {"messages": [{"role": "user", "content": "wipe the staging database"}], "stream": True}
    names, _, deltas = _streamed_call(_chat(_DecidingEngine(answer), body)[0])
    assert names == ["ask_human"] and not any(d.get("content") for d in deltas)
