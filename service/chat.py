"""Serving logic of `/v1/chat/completions`: an OpenAI chat request in, a constrained generation out.

A request is served in one of four modes, chosen in one place (`ChatService.plan`):

- router: no tools and no response_format, or tools that are all ours (`contract.TOOLS`). The last
  user message is the request, every other message is context, and the prompt and decision grammar
  are the router's own; a `running` decision becomes a tool call, a `complete` one the content. The
  served guards (destructive, path, scope, mode rule, confidence: `Router.guard`) apply as on `/route`, where the
  request's tools and tool_choice allow the ask_human they answer with.
- functions: any other tools. The tools are described in the system message and the output is
  constrained to `{"name": ..., "arguments": ...}` with arguments valid against that function's schema
  (or `{"content": ...}` for a direct answer when tool_choice is auto).
- json: response_format json_schema or json_object; the output is constrained to the schema.
- text: tool_choice none with foreign tools; unconstrained text.

Streaming turns the growing output into OpenAI deltas as it comes (`_DeltaParser`): a direct answer's
text and a tool call's arguments stream token by token, except in router mode what a guard could still
replace: a tool call (with its thought) while any guard is on, and a direct answer to a destructive
command; those are sent whole once guarded, so a stream always spells what the plain response holds.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import ValidationError

from contract import TOOLS, build_messages, grammar_json_schema, parse_decision
from contract.decision import CompleteDecision, RunningDecision
from service.engines import EngineError, Generation, GenerationRequest
from service.openai_protocol import (
    ChatCompletion,
    ChatCompletionRequest,
    ChatRequestError,
    Choice,
    Message,
    ModelCard,
    ModelList,
    NamedToolChoice,
    ResponseMessage,
    Tool,
    ToolCall,
    ToolChoice,
    Usage,
)
from service.routing import CONFIDENCE_KEYS
from service.state import ServiceState

log = logging.getLogger(__name__)

Mode = Literal["router", "functions", "json", "text"]

# Router mode: the decision's key order is the schema's, and the JSON is compact, so these prefixes
# locate the streamed parts. If they ever fail to match, the parsed output is sent whole at the end.
_ANSWER = re.compile(r'^\{"status":"complete","final_answer":"')
_THOUGHT = re.compile(r'^\{"status":"running","thought":"')
_ROUTER_CALL = re.compile(r'"tool_use":\{"tool_name":"(?P<name>[a-z_]+)","arguments":')
_FUNCTION_CALL = re.compile(r'^\{"name":"(?P<name>[^"\\]+)","arguments":')
_CONTENT = re.compile(r'^\{"content":"')


@dataclass
class Plan:
    """What the engine runs for one chat request, and how its output becomes a message."""

    mode: Mode
    generation: GenerationRequest
    model: str
    tool_names: tuple[str, ...] = ()
    query: str = ""
    """Router mode: the request (the last user message); the guards read it, as `/route` does."""
    context: str | None = None
    may_ask: bool = True
    """Router mode: the grammar allows ask_human, so the guards that answer with it can run."""
    hold_answer: bool = False
    hold_call: bool = False
    """Router mode: a guard could replace a direct answer / a tool call, so the stream holds it until the
    decision is complete and guarded (a delta once sent cannot be taken back)."""


@dataclass
class Reply:
    content: str | None
    finish_reason: Literal["stop", "length", "tool_calls"]
    tool_call: ToolCall | None = None
    reasoning: str | None = None

    def message(self) -> ResponseMessage:
        tool_calls = [self.tool_call] if self.tool_call else None
        return ResponseMessage(content=self.content, tool_calls=tool_calls, reasoning_content=self.reasoning)


class ChatService:
    """The serving object behind `/v1`: plans requests, runs them, shapes OpenAI responses."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self.created = int(time.time())
        self._checked_schemas: OrderedDict[str, None] = OrderedDict()

    # --- models ---------------------------------------------------------------------------------

    def models(self) -> ModelList:
        self.state.require_router()
        engine = self.state.engine
        cards = [ModelCard(id=engine.model_name, created=self.created, root=engine.model_name)]
        for name, path in engine.adapters().items():
            cards.append(ModelCard(id=name, created=self.created, root=str(path), parent=engine.model_name))
        return ModelList(data=cards)

    def _adapter_for(self, model: str) -> str | None:
        engine = self.state.engine
        if model == engine.model_name:
            return None
        if model in engine.adapters():
            return model
        available = ", ".join(card.id for card in self.models().data)
        raise ChatRequestError(
            f"the model {model!r} does not exist; available: {available} (see GET /v1/models)",
            param="model",
            status=404,
            code="model_not_found",
        )

    # --- planning: the one place a chat request becomes engine parameters -------------------------

    def plan(self, request: ChatCompletionRequest) -> Plan:
        self.state.require_router()
        adapter = self._adapter_for(request.model)
        mode, messages, schema, names = self._mode(request)
        limit = request.token_limit or self.state.settings.max_tokens
        temperature = 0.0 if request.temperature is None else request.temperature
        generation = GenerationRequest(
            messages=messages, json_schema=schema, max_tokens=limit, temperature=temperature, adapter=adapter,
            confidence_keys=CONFIDENCE_KEYS if mode == "router" else (),
        )
        if mode != "router":
            return Plan(mode, generation, request.model, names)
        router = self.state.require_router()
        query, context = _router_request(request.messages)
        # The decision prior, as /route has it: MiniLM embeds the query while the engine prefills.
        generation = replace(generation, branch_prior=router.branch_prior(query, router.cue(query)))
        named = request.tool_choice.function.name if isinstance(request.tool_choice, NamedToolChoice) else None
        may_ask = "ask_human" in names and named in (None, "ask_human") and request.tool_choice != "none"
        return Plan(
            mode, generation, request.model, names, query, context, may_ask,
            hold_answer=may_ask and router.may_override(query, answers=True),
            hold_call=router.may_override(query, answers=False),
        )

    def _mode(self, request: ChatCompletionRequest) -> tuple[Mode, list[dict[str, str]], dict | None, tuple]:
        tools, choice, fmt = request.tools or [], request.tool_choice, request.response_format
        names = [tool.function.name for tool in tools]
        if len(set(names)) != len(names):
            raise ChatRequestError("tools: two tools have the same name", param="tools")
        named = choice.function.name if isinstance(choice, NamedToolChoice) else None
        if (choice == "required" or named) and not tools:
            raise ChatRequestError(
                "tool_choice needs `tools`: send the tools it may call", param="tool_choice"
            )
        if named and named not in names:
            raise ChatRequestError(
                f"tool_choice names {named!r}, which is not among the tools: {', '.join(names)}",
                param="tool_choice",
            )
        wants_json = fmt is not None and fmt.type != "text"
        if wants_json and tools and choice != "none":
            raise ChatRequestError(
                "tools with a JSON response_format are not supported; send one, or tool_choice='none'",
                param="response_format",
            )
        if wants_json:
            schema = {"type": "object"} if fmt.type == "json_object" else fmt.json_schema.schema_
            if schema is None:
                raise ChatRequestError(
                    "response_format.json_schema.schema is required", param="response_format"
                )
            self._check_schema(schema, "response_format.json_schema.schema")
            return "json", _json_messages(request.messages, schema, fmt.type), closed(schema), ()
        if not tools or all(name in TOOLS for name in names):
            allowed = tuple(name for name in TOOLS if not tools or name in names)
            messages = build_messages(*_router_request(request.messages))
            return "router", messages, decision_schema(allowed, choice), allowed
        if choice == "none":
            return "text", _plain_messages(request.messages), None, tuple(names)
        for index, tool in enumerate(tools):
            self._check_schema(_parameters(tool), f"tools[{index}].function.parameters")
        chosen = [tool for tool in tools if named in (None, tool.function.name)]
        direct = choice in (None, "auto")
        schema = functions_schema(chosen, allow_content=direct)
        return "functions", _function_messages(request.messages, chosen, direct), schema, tuple(names)

    def _check_schema(self, schema: Any, where: str) -> None:
        """Refuse a schema the grammar compiler cannot take, naming the part that breaks it."""
        key = json.dumps(schema, sort_keys=True)
        if key in self._checked_schemas:
            self._checked_schemas.move_to_end(key)
            return
        problem = schema_problem(schema)
        if problem:
            path, message = problem
            raise ChatRequestError(f"{where}{path}: {message}", param=where.split(".")[0].split("[")[0])
        self._checked_schemas[key] = None
        if len(self._checked_schemas) > 256:
            self._checked_schemas.popitem(last=False)

    # --- running -------------------------------------------------------------------------------

    async def complete(self, request: ChatCompletionRequest) -> ChatCompletion:
        plan = self.plan(request)
        try:
            generation = await self.state.engine.generate(plan.generation)
            reply = self._finish(plan, generation)
        except EngineError:
            self.state.metrics.engine_errors.inc()
            raise
        self._record(plan, generation, reply, stream=False)
        return ChatCompletion(
            id=_completion_id(),
            model=plan.model,
            choices=[Choice(message=reply.message(), finish_reason=reply.finish_reason)],
            usage=_usage(generation),
        )

    async def stream(self, request: ChatCompletionRequest) -> AsyncIterator[str]:
        """Server-sent events. Waits for the first piece of output before returning, so every error
        that comes before it (bad schema, prompt too long, model not ready) is still an HTTP status."""
        started = time.perf_counter()
        plan = self.plan(request)
        pieces = aiter(self.state.engine.stream(plan.generation))
        try:
            first = await anext(pieces, None)
        except BaseException:
            await pieces.aclose()
            raise
        self.state.metrics.time_to_first_token.observe(time.perf_counter() - started)
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        return self._events(plan, pieces, first, include_usage)

    async def _events(
        self, plan: Plan, pieces: AsyncIterator, first: str | Generation | None, include_usage: bool
    ) -> AsyncIterator[str]:
        chunk = _ChunkWriter(_completion_id(), plan.model)
        parser = _DeltaParser(plan)
        generation: Generation | None = None
        async with aclosing(pieces):
            try:
                yield chunk.delta({"role": "assistant", "content": ""})
                item = first
                while item is not None:
                    if isinstance(item, Generation):
                        generation = item
                    else:
                        for delta in parser.feed(item):
                            yield chunk.delta(delta)
                    item = await anext(pieces, None)
                if generation is None:
                    raise EngineError("the engine's stream ended without its final result")
                reply = self._finish(plan, generation)
                for delta in parser.close(reply):
                    yield chunk.delta(delta)
                yield chunk.delta({}, finish_reason=reply.finish_reason)
                self._record(plan, generation, reply, stream=True)
                if include_usage:
                    yield chunk.usage(_usage(generation))
            except Exception as error:  # noqa: BLE001 - the status line is sent: report it as an event
                self.state.metrics.engine_errors.inc()
                if not isinstance(error, EngineError):
                    log.warning("stream failed after its first piece: %s: %s", type(error).__name__, error)
                kind, code = getattr(error, "type", "engine_error"), getattr(error, "code", None)
                yield _sse({"error": {"message": str(error), "type": kind, "param": None, "code": code}})
            yield "data: [DONE]\n\n"

    def _finish(self, plan: Plan, generation: Generation) -> Reply:
        """The reply, after the served guards in router mode: the chat API routes as `/route` does."""
        reply = finish(plan, generation)
        if plan.mode != "router" or reply.finish_reason == "length":
            return reply
        decision = parse_decision(generation.text)
        guarded = self.state.require_router().guard(
            plan.query, plan.context, decision, generation.confidence, may_ask=plan.may_ask
        )
        guarded.count(self.state.metrics)
        return reply if guarded.decision is decision else _decision_reply(guarded.decision, None)

    def _record(self, plan: Plan, generation: Generation, reply: Reply, *, stream: bool) -> None:
        metrics = self.state.metrics
        metrics.chat_completions.labels(
            mode=plan.mode, stream=str(stream).lower(), finish_reason=reply.finish_reason
        ).inc()
        metrics.prompt_tokens.inc(generation.prompt_tokens)
        metrics.completion_tokens.inc(generation.completion_tokens)
        metrics.forced_tokens.inc(generation.forced_tokens)
        if plan.mode == "router" and reply.finish_reason != "length":
            tool = reply.tool_call.function.name if reply.tool_call else "none"
            metrics.decisions.labels(status="running" if reply.tool_call else "complete", tool=tool).inc()


# --- schemas -------------------------------------------------------------------------------------


def decision_schema(tools: tuple[str, ...], choice: ToolChoice | None) -> dict[str, Any]:
    """The router's decision grammar, narrowed to the given tools and to what tool_choice allows."""
    schema = grammar_json_schema(reasoning=True)
    defs = schema["$defs"]
    named = choice.function.name if isinstance(choice, NamedToolChoice) else None
    uses = defs["RunningDecision"]["properties"]["tool_use"]
    uses["anyOf"] = [
        ref
        for ref in uses["anyOf"]
        if _ref_tool(defs, ref) in tools and named in (None, _ref_tool(defs, ref))
    ]
    keep = (
        "CompleteDecision"
        if choice == "none"
        else "RunningDecision"
        if choice == "required" or named
        else None
    )
    if keep:
        schema["anyOf"] = [ref for ref in schema["anyOf"] if ref["$ref"].endswith(f"/{keep}")]
    return schema


def _ref_tool(defs: dict, ref: dict) -> str:
    return defs[ref["$ref"].rsplit("/", 1)[1]]["properties"]["tool_name"]["const"]


def _parameters(tool: Tool) -> dict[str, Any]:
    return tool.function.parameters or {"type": "object", "properties": {}}


def functions_schema(tools: list[Tool], *, allow_content: bool) -> dict[str, Any]:
    """`{"name": f, "arguments": <f's parameters>}` for one of the tools (or `{"content": str}`).

    Each tool's parameters move under `$defs`, their own `$defs` hoisted and their `$ref`s rewritten,
    so schemas with references (pydantic's, instructor's) keep working when nested.
    """
    defs: dict[str, Any] = {}
    calls = []
    for index, tool in enumerate(tools):
        params = closed(_parameters(tool))
        own = f"tool{index}"
        for key in ("$defs", "definitions"):
            for name, sub in (params.pop(key, None) or {}).items():
                defs[f"{own}__{name}"] = _rebase(sub, own)
        defs[own] = _rebase(params, own)
        calls.append(
            {
                "type": "object",
                "properties": {
                    "name": {"const": tool.function.name},
                    "arguments": {"$ref": f"#/$defs/{own}"},
                },
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
        )
    if allow_content:
        content = {"type": "string", "minLength": 1}
        calls.append(
            {
                "type": "object",
                "properties": {"content": content},
                "required": ["content"],
                "additionalProperties": False,
            }
        )
    return {"anyOf": calls, "$defs": defs}


def closed(node: Any) -> Any:
    """A copy where every object schema that lists properties but says nothing of others forbids them.

    Output valid under the copy is valid under the original; without this a grammar lets a small model
    invent keys until it runs out of tokens (the contract forbids extra keys for the same reason).
    """
    if isinstance(node, dict):
        out = {key: closed(value) for key, value in node.items()}
        if "properties" in out and "additionalProperties" not in out and "patternProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [closed(item) for item in node]
    return node


def _rebase(node: Any, own: str) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#"):
                rest = value[1:]
                for prefix in ("/$defs/", "/definitions/"):
                    if rest.startswith(prefix):
                        value = f"#/$defs/{own}__{rest[len(prefix) :]}"
                        break
                else:
                    value = f"#/$defs/{own}{rest}"
            out[key] = _rebase(value, own)
        return out
    if isinstance(node, list):
        return [_rebase(item, own) for item in node]
    return node


def schema_problem(schema: Any) -> tuple[str, str] | None:
    """(path, message) of the deepest part of `schema` that llguidance cannot compile, or None."""
    message = _compile_error(schema)
    if message is None:
        return None
    path = ""
    node, defs = schema, schema.get("$defs", {}) if isinstance(schema, dict) else {}
    while True:
        for child_path, child in _children(node):
            child_error = _compile_error({**child, "$defs": defs} if defs and "$defs" not in child else child)
            if child_error is not None:
                path, node, message = path + child_path, child, child_error
                break
        else:
            return path, message


def _children(node: Any):
    if not isinstance(node, dict):
        return
    for key in ("properties", "$defs", "definitions", "patternProperties"):
        for name, child in (node.get(key) or {}).items() if isinstance(node.get(key), dict) else ():
            if isinstance(child, dict):
                yield f".{key}.{name}", child
    for key in ("items", "additionalProperties", "not", "contains"):
        if isinstance(node.get(key), dict):
            yield f".{key}", node[key]
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for index, child in enumerate(node.get(key) or []) if isinstance(node.get(key), list) else ():
            if isinstance(child, dict):
                yield f".{key}[{index}]", child


def _compile_error(schema: Any) -> str | None:
    from llguidance import LLMatcher

    if not isinstance(schema, dict):
        return f"a JSON schema must be an object, got {type(schema).__name__}"
    try:
        grammar = LLMatcher.grammar_from_json_schema(schema, defaults={"whitespace_flexible": False})
        is_error, messages = LLMatcher.validate_grammar_with_warnings(grammar)
    except (ValueError, TypeError, RuntimeError) as error:
        return str(error)
    if not is_error:
        return None
    return "; ".join(messages) or "the schema cannot be compiled to a grammar"


# --- prompts -------------------------------------------------------------------------------------


def _turn_text(message: Message) -> str:
    if message.role == "assistant" and message.tool_calls:
        calls = [
            {"name": c.function.name, "arguments": _loads(c.function.arguments)} for c in message.tool_calls
        ]
        text = json.dumps(calls[0] if len(calls) == 1 else calls, ensure_ascii=False, separators=(",", ":"))
        return f"{message.text()}\n{text}".strip()
    return message.text()


def _router_request(messages: list[Message]) -> tuple[str, str | None]:
    """The last user message is the request; every other message, in order, is its context."""
    last = max(i for i, m in enumerate(messages) if m.role == "user")
    context = "\n".join(
        f"{'tool result' if m.role == 'tool' else m.role}: {_turn_text(m)}"
        for i, m in enumerate(messages)
        if i != last
    )
    return messages[last].text(), context or None


def _plain_messages(messages: list[Message], extra_system: str | None = None) -> list[dict[str, str]]:
    """The conversation for the model's chat template: system and developer turns merged first."""
    system = [m.text() for m in messages if m.role in ("system", "developer")] + (
        [extra_system] if extra_system else []
    )
    turns = [{"role": "system", "content": "\n\n".join(system)}] if system else []
    for message in messages:
        if message.role not in ("system", "developer"):
            turns.append({"role": message.role, "content": _turn_text(message)})
    return turns


def _function_messages(messages: list[Message], tools: list[Tool], direct: bool) -> list[dict[str, str]]:
    lines = ["You can call these functions:"]
    for tool in tools:
        params = json.dumps(_parameters(tool), ensure_ascii=False, separators=(",", ":"))
        lines.append(f"- {tool.function.name}: {tool.function.description or ''} Parameters: {params}")
    lines.append('Call one with a JSON object {"name": <function name>, "arguments": {...}}')
    if direct:
        lines[-1] += ', or answer directly with {"content": <your answer>}'
    return _plain_messages(messages, "\n".join(lines) + ".")


def _json_messages(messages: list[Message], schema: dict, kind: str) -> list[dict[str, str]]:
    if kind == "json_object":
        return _plain_messages(messages, "Answer with one JSON object.")
    text = json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
    return _plain_messages(messages, f"Answer with JSON that matches this schema: {text}")


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


# --- output --------------------------------------------------------------------------------------


def finish(plan: Plan, generation: Generation) -> Reply:
    """The finished output as a message. An engine that steered the output closed as its token budget
    ran out (`truncated`) gave valid but cut-short output: it is parsed, and reported as "length"."""
    reply = _reply(plan, generation.text, generation.finish_reason)
    if getattr(generation, "truncated", False):
        reply.finish_reason = "length"
    return reply


def _reply(plan: Plan, text: str, finish_reason: str) -> Reply:
    """The output as a message: a tool call, or content. Output cut off mid-document stays raw text."""
    if finish_reason == "length" or plan.mode in ("json", "text"):
        return Reply(text, "length" if finish_reason == "length" else "stop")
    if plan.mode == "router":
        try:
            decision = parse_decision(text)
        except ValidationError as error:
            raise EngineError(f"the model's output is not a valid decision: {error}") from None
        return _decision_reply(decision, text)
    try:
        data = json.loads(text)
        if set(data) == {"content"}:
            return Reply(str(data["content"]), "stop")
        name, arguments = data["name"], data["arguments"]
    except (json.JSONDecodeError, TypeError, KeyError):
        raise EngineError(f"the model's output is not a function call: {text[:200]!r}") from None
    match = _FUNCTION_CALL.match(text)
    raw = text[match.end() : -1] if match else _compact(arguments)
    return Reply(None, "tool_calls", _tool_call(name, raw))


def _decision_reply(decision: RunningDecision | CompleteDecision, text: str | None) -> Reply:
    """A router decision as a message; a tool call's arguments are the model's own bytes when its output
    `text` is given, else the decision's compact JSON (a guard wrote it)."""
    if not isinstance(decision, RunningDecision):
        return Reply(decision.final_answer, "stop")
    call = decision.tool_use
    match = _ROUTER_CALL.search(text) if text else None
    raw = text[match.end() : -2] if match else _compact(call.arguments.model_dump(mode="json", exclude_none=True))
    return Reply(None, "tool_calls", _tool_call(call.tool_name, raw), reasoning=decision.thought)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _tool_call(name: str, arguments: str) -> ToolCall:
    return ToolCall(id=f"call_{uuid.uuid4().hex[:24]}", function={"name": name, "arguments": arguments})


def _partial_string(raw: str) -> tuple[str, bool]:
    """Decode the JSON string body `raw` (after its opening quote) as far as it is complete.

    Returns (text, closed). An escape cut in half, or half a surrogate pair, waits for the next piece.
    """
    escaped = False
    for index, char in enumerate(raw):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return json.loads(f'"{raw[:index]}"'), True
    for cut in range(len(raw), max(len(raw) - 12, -1), -1):
        try:
            text = json.loads(f'"{raw[:cut]}"')
        except json.JSONDecodeError:
            continue
        if not (text and "\ud800" <= text[-1] <= "\udbff"):
            return text, False
    return "", False


@dataclass
class _DeltaParser:
    """Turns the growing output of one request into OpenAI deltas as soon as each part is known."""

    plan: Plan
    text: str = ""
    sent: dict[str, str] = field(
        default_factory=lambda: {"content": "", "reasoning_content": "", "arguments": ""}
    )
    call: ToolCall | None = None

    def feed(self, piece: str) -> list[dict]:
        self.text += piece
        text, mode = self.text, self.plan.mode
        if mode in ("json", "text"):
            return self._grow("content", text)
        if mode == "router":
            if match := _ANSWER.match(text):
                if self.plan.hold_answer:
                    return []
                return self._grow("content", _partial_string(text[match.end() :])[0])
            if self.plan.hold_call:
                return []
            if match := _THOUGHT.match(text):
                thought, closed = _partial_string(text[match.end() :])
                deltas = self._grow("reasoning_content", thought)
                if closed and (call := _ROUTER_CALL.search(text)):
                    deltas += self._arguments(call, text[call.end() : len(text) - 2])
                return deltas
            return []
        if match := _CONTENT.match(text):
            return self._grow("content", _partial_string(text[match.end() :])[0])
        if call := _FUNCTION_CALL.match(text):
            return self._arguments(call, text[call.end() : len(text) - 1])
        return []

    def close(self, reply: Reply) -> list[dict]:
        """Whatever the finished reply holds that was not streamed yet."""
        deltas = []
        for key, value in (("reasoning_content", reply.reasoning), ("content", reply.content)):
            if value and value.startswith(self.sent[key]):
                deltas += self._grow(key, value)
        if reply.tool_call:
            if self.call is None:
                self.call = reply.tool_call
                deltas.append({"tool_calls": [{"index": 0, **reply.tool_call.model_dump()}]})
                self.sent["arguments"] = reply.tool_call.function.arguments
            else:
                deltas += self._grow("arguments", reply.tool_call.function.arguments)
        return deltas

    def _grow(self, key: str, value: str) -> list[dict]:
        new = value[len(self.sent[key]) :]
        if not new:
            return []
        self.sent[key] = value
        if key == "arguments":
            return [{"tool_calls": [{"index": 0, "function": {"arguments": new}}]}]
        return [{key: new}]

    def _arguments(self, call: re.Match, arguments: str) -> list[dict]:
        deltas = []
        if self.call is None:
            self.call = _tool_call(call["name"], "")
            deltas.append({"tool_calls": [{"index": 0, **self.call.model_dump()}]})
        return deltas + self._grow("arguments", arguments)


class _ChunkWriter:
    def __init__(self, completion_id: str, model: str) -> None:
        self.base = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }

    def delta(self, delta: dict, finish_reason: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return _sse({**self.base, "choices": [choice]})

    def usage(self, usage: Usage) -> str:
        return _sse({**self.base, "choices": [], "usage": usage.model_dump()})


def _sse(payload: dict) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n"


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def _usage(generation: Generation) -> Usage:
    prompt, completion = generation.prompt_tokens, generation.completion_tokens
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
