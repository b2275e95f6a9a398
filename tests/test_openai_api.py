"""/v1/chat/completions and /v1/models with real clients (openai, litellm, instructor) over real HTTP.

One `router serve` subprocess on the embedded default model serves the whole module. It runs the engine
on one thread: on a shared 2-core machine two spinning threads are many times slower under contention.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import jsonschema
import openai
import pytest
from pydantic import BaseModel, Field

from contract import TOOLS
from service.chat import _partial_string
from service.openai_protocol import router_tools

ROUTER_TOOLS = router_tools()
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"],
        },
    },
}
QUERY = "where is the User class defined?"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.conftest import start_server, stop_server

    # The base model alone: these tests pin its behaviour (one model listed, direct answers); the
    # adapter's listing is covered in test_openai_chat.py and the shipped adapter in test_api_route.py.
    env = {"ROUTER_THREADS": "1", "ROUTER_REQUEST_TIMEOUT_SECONDS": "120", "ROUTER_MAX_TOKENS": "3000",
           "ROUTER_ADAPTER_PATH": "none"}
    running = start_server(tmp_path_factory.mktemp("openai_api"), env=env)
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def base_url(server) -> str:
    return f"{server.url}/v1"


@pytest.fixture(scope="module")
def client(base_url) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def model(client) -> str:
    return client.models.list().data[0].id


def _ask(client, model, content=QUERY, **kwargs):
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": content}], **kwargs
    )


# --- models ---------------------------------------------------------------------------------------


def test_models_lists_the_base_model(client, server):
    models = client.models.list().data
    ready = httpx.get(f"{server.url}/ready").json()
    assert [m.id for m in models] == [ready["model"]]
    assert models[0].object == "model" and getattr(models[0], "parent", None) is None


# --- the openai SDK ---------------------------------------------------------------------------------


def test_plain_request_answers_directly_with_usage(client, model):
    response = _ask(client, model, "what is a mutex?", max_tokens=200)
    choice = response.choices[0]
    assert response.id.startswith("chatcmpl-") and response.model == model
    assert choice.finish_reason == "stop" and choice.message.tool_calls is None
    assert isinstance(choice.message.content, str) and choice.message.content
    usage = response.usage
    assert usage.prompt_tokens > 20 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


@pytest.mark.parametrize(
    "tool_choice", ["required", {"type": "function", "function": {"name": "codebase_search"}}]
)
def test_tool_call_on_our_four_tools(client, model, tool_choice):
    response = _ask(client, model, tools=ROUTER_TOOLS, tool_choice=tool_choice)
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.id.startswith("call_")
    if isinstance(tool_choice, dict):
        assert call.function.name == "codebase_search"
    arguments = json.loads(call.function.arguments)
    TOOLS[call.function.name].adapter.validate_python(arguments)  # valid against the contract
    assert choice.message.model_extra["reasoning_content"], "the decision's thought comes along"


def test_tool_choice_none_on_our_tools_answers_directly(client, model):
    choice = _ask(client, model, tools=ROUTER_TOOLS, tool_choice="none").choices[0]
    assert choice.finish_reason == "stop" and choice.message.tool_calls is None and choice.message.content


def test_earlier_turns_are_context_not_the_request(client, model):
    messages = [
        {"role": "system", "content": "The repository is a Django shop."},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "Hi! What do you need?"},
        {"role": "user", "content": QUERY},
    ]
    response = client.chat.completions.create(
        model=model, messages=messages, tools=ROUTER_TOOLS, tool_choice="required"
    )
    assert response.choices[0].finish_reason == "tool_calls"
    assert (
        response.usage.prompt_tokens
        > _ask(client, model, tools=ROUTER_TOOLS, tool_choice="required").usage.prompt_tokens
    )


def test_foreign_tools_are_called_with_arguments_valid_for_their_schema(client, model):
    response = _ask(client, model, "what's the weather in Paris?", tools=[WEATHER], tool_choice="required")
    (call,) = response.choices[0].message.tool_calls
    assert call.function.name == "get_weather" and response.choices[0].finish_reason == "tool_calls"
    arguments = json.loads(call.function.arguments)
    jsonschema.validate(arguments, WEATHER["function"]["parameters"])
    assert set(arguments) == {"city", "unit"}, "no invented keys"


def test_response_format_json_schema_and_json_object(client, model):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 20}, "age": {"type": "integer", "minimum": 0}},
        "required": ["name", "age"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": schema}}
    content = (
        _ask(client, model, "Bob is 30 years old. Who is he?", response_format=fmt).choices[0].message.content
    )
    jsonschema.validate(json.loads(content), schema)
    content = _ask(client, model, "a user record", response_format={"type": "json_object"}, max_tokens=80)
    if content.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(content.choices[0].message.content), dict)
    else:
        assert content.choices[0].message.content.startswith("{")


def test_async_client(base_url, model):
    async def main():
        async with openai.AsyncOpenAI(
            base_url=base_url, api_key="unused", max_retries=0, timeout=120
        ) as client:
            return await asyncio.gather(
                *(
                    client.chat.completions.create(model=model, messages=[{"role": "user", "content": q}])
                    for q in (QUERY, "what is a mutex?")
                )
            )

    for response in asyncio.run(main()):
        assert response.choices[0].finish_reason in ("stop", "tool_calls")
        message = response.choices[0].message
        assert message.content or message.tool_calls


def test_a_destructive_request_asks_first_through_the_sdk_too(client, model, server):
    """Router mode runs the served guards as `/route` does: whichever of these tools the base model picks,
    a destructive request comes back as ask_human, streamed or not, and the stream spells the same call."""
    tools = [tool for tool in ROUTER_TOOLS if tool["function"]["name"] in ("sandbox_exec", "ask_human")]
    content = "rm -rf the build directory, then rebuild everything"
    before = _destructive_overrides(server)
    call = _ask(client, model, content, tools=tools, tool_choice="required").choices[0].message.tool_calls[0]
    assert call.function.name == "ask_human" and "question" in json.loads(call.function.arguments)
    streamed = _collect(_ask(client, model, content, tools=tools, tool_choice="required", stream=True))
    assert streamed["names"] == ["ask_human"] and streamed["arguments"] == call.function.arguments
    assert _destructive_overrides(server) == before + 2, "the base model chose sandbox_exec: the guard asked"


def _destructive_overrides(server) -> float:
    for line in httpx.get(f"{server.url}/metrics").text.splitlines():
        if line.startswith("router_destructive_overrides_total "):
            return float(line.split()[1])
    raise AssertionError("router_destructive_overrides_total is not exported")


# --- streaming ----------------------------------------------------------------------------------


def _collect(chunks):
    content, arguments, names, finish, usage, roles = "", "", [], None, None, []
    for chunk in chunks:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            delta = choice.delta
            roles += [delta.role] if delta.role else []
            content += delta.content or ""
            for call in delta.tool_calls or []:
                names += [call.function.name] if call.function and call.function.name else []
                arguments += (call.function.arguments or "") if call.function else ""
            finish = choice.finish_reason or finish
    return {
        "content": content,
        "arguments": arguments,
        "names": names,
        "finish": finish,
        "usage": usage,
        "roles": roles,
    }


def test_sync_stream_matches_the_plain_answer(client, model, server):
    kwargs = {"max_tokens": 120}
    # A question the base model answers at length (to "what is a mutex?" it answers "1").
    question = "what is the difference between a process and a thread?"
    plain = _ask(client, model, question, **kwargs)
    chunks = list(_ask(client, model, question, stream=True, stream_options={"include_usage": True}, **kwargs))
    got = _collect(chunks)
    assert got["roles"] == ["assistant"]
    assert got["content"] == plain.choices[0].message.content, "greedy: the stream spells the same answer"
    assert got["finish"] == plain.choices[0].finish_reason
    assert got["usage"].completion_tokens == plain.usage.completion_tokens
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 1, "sent piece by piece"
    metrics = httpx.get(f"{server.url}/metrics").text
    assert "router_time_to_first_token_seconds_count" in metrics
    finish = plain.choices[0].finish_reason
    assert f'router_chat_completions_total{{finish_reason="{finish}",mode="router",stream="true"}}' in metrics


def test_async_stream_of_a_tool_call_matches_the_plain_call(base_url, model, client):
    choice = {"type": "function", "function": {"name": "codebase_search"}}
    plain = _ask(client, model, tools=ROUTER_TOOLS, tool_choice=choice).choices[0].message.tool_calls[0]

    async def main():
        async with openai.AsyncOpenAI(
            base_url=base_url, api_key="unused", max_retries=0, timeout=120
        ) as aclient:
            stream = await aclient.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": QUERY}],
                tools=ROUTER_TOOLS,
                tool_choice=choice,
                stream=True,
            )
            return [chunk async for chunk in stream]

    got = _collect(asyncio.run(main()))
    assert got["names"] == ["codebase_search"] and got["finish"] == "tool_calls"
    assert got["arguments"] == plain.function.arguments
    json.loads(got["arguments"])


def test_raw_sse_ends_with_done_and_streams_foreign_tool_arguments(base_url, model):
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "weather in Oslo?"}],
        "stream": True,
        "tools": [WEATHER],
        "tool_choice": "required",
    }
    with httpx.stream("POST", f"{base_url}/chat/completions", json=body, timeout=120) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert all(e["object"] == "chat.completion.chunk" for e in events)
    pieces = [
        c["function"]["arguments"] for e in events for c in e["choices"][0]["delta"].get("tool_calls", [])
    ]
    assert len([p for p in pieces if p]) > 1
    jsonschema.validate(json.loads("".join(pieces)), WEATHER["function"]["parameters"])


def test_client_disconnect_stops_generation(base_url, model):
    """A stream the client abandons frees the model: the next request does not wait for it to finish."""
    endless = {
        "type": "object",
        "properties": {"n": {"type": "array", "items": {"type": "integer"}, "minItems": 2000}},
    }
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "count"}],
        "stream": True,
        "max_tokens": 2500,
        "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": endless}},
    }
    with httpx.stream("POST", f"{base_url}/chat/completions", json=body, timeout=120) as response:
        for index, _ in enumerate(response.iter_lines()):
            if index > 4:
                break
    started = time.perf_counter()
    with httpx.Client(timeout=120) as http:
        short = {
            "model": model,
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 5,
            "response_format": {"type": "json_object"},
        }
        assert http.post(f"{base_url}/chat/completions", json=short).status_code == 200
    # 2,500 tokens take 20 s or more here; stopped at its next step, the abandoned stream frees the model
    # at once (this took 6-10 s while a cancelled step was left for the garbage collector to close).
    elapsed = time.perf_counter() - started
    print(f"request after a disconnect: {elapsed:.2f}s")
    assert elapsed < 5


# --- bad requests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "param", "words"),
    [
        ({"messages": []}, "messages", "at least one message"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages", "user message"),
        ({"n": 2}, "n", "n=2 is not supported"),
        ({"logprobs": True}, "logprobs", "logprobs"),
        ({"stop": ["\n"]}, "stop", "stop"),
        ({"extra_body": {"best_of": 3}}, "best_of", "unknown parameter 'best_of'"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
            "messages",
            "only text parts",
        ),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice",
            "'nope'",
        ),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {
                        "name": "x",
                        "schema": {
                            "type": "object",
                            "properties": {"a": {"type": "object", "properties": {"b": {"type": "strin"}}}},
                        },
                    },
                }
            },
            "response_format",
            "schema.properties.a.properties.b: Invalid type: strin",
        ),
        (
            {
                "tools": [
                    {
                        **WEATHER,
                        "function": {
                            **WEATHER["function"],
                            "parameters": {
                                "type": "object",
                                "properties": {"city": {"type": "string", "pattern": "(("}},
                            },
                        },
                    }
                ]
            },
            "tools",
            "tools[0].function.parameters.properties.city",
        ),
    ],
)
def test_bad_requests_are_400_naming_the_problem(client, model, change, param, words):
    kwargs = {"messages": [{"role": "user", "content": "hi"}]} | change
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=model, **kwargs)
    error = caught.value.body
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert words in error["message"]


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as caught:
        _ask(client, "gpt-5")
    assert caught.value.body["code"] == "model_not_found" and "gpt-5" in caught.value.body["message"]


def test_oversized_body_is_413(client, model):
    with pytest.raises(openai.APIStatusError) as caught:
        _ask(client, model, "x" * 100_000)
    assert caught.value.status_code == 413 and "exceeds" in caught.value.body["message"]


def test_bad_request_to_stream_is_a_status_not_an_event(base_url, model):
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "hi " * 5000}],
        "stream": True,
        "max_tokens": 5,
    }
    response = httpx.post(f"{base_url}/chat/completions", json=body, timeout=60)
    assert response.status_code == 400 and "context window" in response.json()["error"]["message"]


# --- litellm and instructor -------------------------------------------------------------------------


def test_litellm_openai_provider(base_url, model, monkeypatch):
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch of its price list: offline
    import litellm

    response = litellm.completion(
        model=f"openai/{model}",
        api_base=base_url,
        api_key="unused",
        messages=[{"role": "user", "content": QUERY}],
        tools=ROUTER_TOOLS,
        tool_choice={"type": "function", "function": {"name": "codebase_search"}},
    )
    call = response.choices[0].message.tool_calls[0]
    assert call.function.name == "codebase_search" and response.choices[0].finish_reason == "tool_calls"
    json.loads(call.function.arguments)
    text = litellm.completion(
        model=f"openai/{model}",
        api_base=base_url,
        api_key="unused",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
    )
    assert "".join(chunk.choices[0].delta.content or "" for chunk in text)


class Person(BaseModel):
    name: str = Field(min_length=1, max_length=30)
    age: int = Field(ge=0, le=150)


@pytest.mark.parametrize("mode", ["TOOLS", "JSON_SCHEMA"])
def test_instructor(base_url, model, mode):
    import instructor

    client = instructor.from_openai(
        openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=120),
        mode=getattr(instructor.Mode, mode),
    )
    person = client.chat.completions.create(
        model=model,
        response_model=Person,
        max_retries=0,
        messages=[{"role": "user", "content": "Extract the person: Alice is 31 years old."}],
    )
    assert isinstance(person, Person) and 0 <= person.age <= 150 and person.name


# --- pieces without a model ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('caf\\u00e9 ok"}', ("café ok", True)),
        ("caf\\u00", ("caf", False)),
        ("tab\\", ("tab", False)),
        ("crab \\ud83e", ("crab ", False)),
        ("crab \\ud83e\\udd80", ("crab 🦀", False)),
        ('say \\"hi\\"', ('say "hi"', False)),
    ],
)
def test_partial_json_strings_decode_only_whole_characters(raw, expected):
    assert _partial_string(raw) == expected
