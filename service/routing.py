"""The routing logic: one request in, one validated decision out, whatever the engine."""

from __future__ import annotations

import math
import time
from concurrent.futures import Future
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from pydantic import ValidationError

from contract import AskHumanArgs, AskHumanCall, build_messages, grammar_json_schema, parse_decision
from contract.copying import spelled_out_removal, spelled_out_swap, written_content, written_patch
from contract.cues import Cue, asks_where, question_cue
from contract.decision import (
    CodebaseSearchArgs, CodebaseSearchCall, CompleteDecision, FileList, FileManagerCall, FilePatch, FileRead,
    FileWrite, RunningDecision,
)
from contract.operations import operation_for_path
from contract.safety import (
    DESTRUCTIVE, asks_for_information, closest_written_path, destructive_phrase, is_question, unnamed_path,
    whole_written_path, written_paths,
)
from contract.scope import invents_scope, search_mode
from contract.unseen import unseen_reference
from service.decision_prior import DecisionPrior
from service.engines import Engine, EngineError, Generation, GenerationRequest
from service.metrics import Metrics

if TYPE_CHECKING:
    from service.settings import Settings


# The decision's branching points: the model's probability for each choice becomes meta.confidence.
CONFIDENCE_KEYS = ("status", "tool_name", "mode", "operation")


@dataclass
class Guarded:
    """A decision after the served guards, and which of them replaced or changed the model's."""

    decision: RunningDecision | CompleteDecision
    low_confidence: bool
    """The model's own choice fell below the confidence threshold and was replaced by ask_human."""
    destructive: bool
    """The request reads as destructive and the model's tool call was replaced by ask_human."""
    unnamed_path: bool
    """The model sent file_manager to a path the user never wrote; the call was replaced by ask_human."""
    unnamed_scope: bool
    """The model scoped a search to files the user never pointed at; the scope was dropped."""
    repaired_path: bool = False
    """The model's file_manager path was a slip on a path the user wrote, or a piece of one; the written one
    replaced it."""
    operation_from_path: bool = False
    """The model listed a file or read a folder; the operation the path's shape calls for replaced it."""
    mode_from_rule: bool = False
    """The model's mode for an unscoped search was not the contract's rule's; the rule's replaced it."""
    repaired_copy: bool = False
    """A write's content or a patch's strings were a slip of text the user wrote; the user's text replaced them."""
    unseen_context: bool = False
    """The request points at context the router cannot see ("the change we discussed"); the model's search,
    program or answer was replaced by ask_human."""

    def flags(self) -> dict[str, bool]:
        """Which guard fired, by name (`RouteMeta` carries each under the same name)."""
        return {field.name: getattr(self, field.name) for field in fields(Guarded) if field.name != "decision"}

    def count(self, metrics: Metrics) -> None:
        """Add this decision's overrides to the service's counters."""
        for fired, counter in ((self.low_confidence, metrics.low_confidence_overrides),
                               (self.destructive, metrics.destructive_overrides),
                               (self.unnamed_path, metrics.unnamed_path_overrides),
                               (self.unnamed_scope, metrics.unnamed_scope_overrides),
                               (self.repaired_path, metrics.repaired_paths),
                               (self.operation_from_path, metrics.path_operations),
                               (self.mode_from_rule, metrics.rule_modes),
                               (self.repaired_copy, metrics.repaired_copies),
                               (self.unseen_context, metrics.unseen_context_overrides)):
            if fired:
                counter.inc()


@dataclass(kw_only=True)
class RouteResult(Guarded):
    """One routed request: the guarded decision and its flags, the generation behind it, the latency."""

    generation: Generation
    latency_ms: float
    question_cue: str | None = None
    """The question cue that ruled choices out before the model decoded (`contract.cues`), if any."""


class Router:
    """Builds the prompt, constrains the engine with the decision grammar, validates the output."""

    def __init__(
        self, engine: Engine, *, max_tokens: int, metrics: Metrics | None = None, confidence_threshold: float = 0.0,
        destructive_guard: bool = False, path_guard: bool = False, scope_guard: bool = False,
        mode_rule: bool = False, copy_repair: bool = False, unseen_context_guard: bool = False,
        question_cues: bool = False, prior: DecisionPrior | None = None,
    ) -> None:
        self.engine = engine
        self.prior = prior
        self.max_tokens = max_tokens
        self.metrics = metrics
        self.confidence_threshold = confidence_threshold
        self.destructive_guard = destructive_guard
        self.path_guard = path_guard
        self.scope_guard = scope_guard
        self.mode_rule = mode_rule
        self.copy_repair = copy_repair
        self.unseen_context_guard = unseen_context_guard
        self.question_cues = question_cues

    @classmethod
    def from_settings(cls, engine: Engine, settings: Settings, *, metrics: Metrics | None = None) -> Router:
        """The router as `router serve` runs it: the guards, the threshold and the decision prior the settings
        name (reading the prior's file; MiniLM itself loads on first use or `prior.warm_up()`)."""
        prior = None  # only the llamacpp engine applies one (GenerationRequest.branch_prior)
        path, weight = settings.decision_prior_path, settings.decision_prior_weight
        if engine.name == "llamacpp" and path is not None and weight > 0:
            prior = DecisionPrior(path, weight)
        return cls(
            engine, max_tokens=settings.max_tokens, metrics=metrics,
            confidence_threshold=settings.confidence_threshold, destructive_guard=settings.destructive_guard,
            path_guard=settings.path_guard, scope_guard=settings.scope_guard, mode_rule=settings.mode_rule,
            copy_repair=settings.copy_repair, unseen_context_guard=settings.unseen_context_guard,
            question_cues=settings.question_cues, prior=prior,
        )

    async def route(self, query: str, *, context: str | None = None, reasoning: bool = True) -> RouteResult:
        started = time.perf_counter()
        cue = self.cue(query)
        request = GenerationRequest(
            messages=build_messages(query, context),
            json_schema=grammar_json_schema(reasoning=reasoning),
            max_tokens=self.max_tokens,
            confidence_keys=CONFIDENCE_KEYS,
            branch_prior=self.branch_prior(query, cue),
        )
        try:
            generation = await self.engine.generate(request)
            decision = self._validate(generation, reasoning)
        except EngineError:
            if self.metrics:
                self.metrics.engine_errors.inc()
            raise
        guarded = self.guard(query, context, decision, generation.confidence, reasoning=reasoning)
        elapsed_ms = (time.perf_counter() - started) * 1e3
        result = RouteResult(**vars(guarded), generation=generation, latency_ms=elapsed_ms,
                             question_cue=cue.name if cue else None)
        if self.metrics:
            self._record(result)
            guarded.count(self.metrics)
        return result

    def cue(self, query: str) -> Cue | None:
        """The question cue of this request (`contract.cues`), when the router reads them."""
        return question_cue(query) if self.question_cues else None

    def branch_prior(self, query: str, cue: Cue | None) -> dict[str, dict[str, float]] | Future:
        """Log-weights for the decision's branching points: `cue`'s choices ruled out (minus infinity; the
        caller reads the cue once, `self.cue(query)`, and keeps it for the response), plus the decision
        prior's, as a Future when there is a prior (MiniLM embeds the query on a worker thread while the
        engine prefills the prompt); {} with neither."""
        ruled_out = {key: dict.fromkeys(values, -math.inf) for key, values in cue.ruled_out.items()} if cue else {}
        if cue and self.metrics:
            self.metrics.question_cues.labels(cue=cue.name).inc()
        if self.prior is None or self.prior.weight == 0:
            return ruled_out
        return self.prior.submit(query, plus=ruled_out)

    def guard(
        self, query: str, context: str | None, decision: RunningDecision | CompleteDecision,
        confidence: dict[str, float], *, reasoning: bool = True, may_ask: bool = True,
    ) -> Guarded:
        """The served guards over one decision of the model's, in this order; `/route` and the chat API's router
        mode share them.

        1. The confidence threshold.
        2. The repairs of text the model copied from the user: a path slip or a piece of a path (the path
           guard), the operation the path's shape calls for (the path guard), then a write's content or a
           patch's strings (the copy repair, which reads the path).
        3. The destructive guard, which so judges the call that would run.
        4. The unseen-context guard; after the destructive guard, so a destructive request is asked about as
           one. A request with a context is left to the model: what it points at may be there.
        5. The path guard's question about a path the user never wrote.
        6. The scope guard, then the mode rule, which so also sees a search whose invented scope was dropped.

        `may_ask=False` (a chat request whose tools or tool_choice leave out ask_human) keeps the guards that
        would answer with ask_human off; the repairs, the scope guard and the mode rule only change a call's
        arguments. A guard that fires returns a new decision object: `decision` itself comes back when none
        did."""
        low = may_ask and below_threshold(confidence, self.confidence_threshold)
        if low:
            decision = _ask_to_clarify(query, decision, confidence, reasoning)
        # The context is text the user (or their agent) gave too: a path or text written there is given.
        given = f"{query}\n{context or ''}"
        repaired = self.path_guard and _with_written_path(given, decision)
        if repaired:
            decision = repaired
        operation = self.path_guard and _with_path_operation(decision)
        if operation:
            decision = operation
        copied = self.copy_repair and _with_written_text(given, decision)
        if copied:
            decision = copied
        acts = may_ask and self.destructive_guard and _acts(query, decision)
        phrase = destructive_phrase(query) if acts else None
        if phrase:
            decision = _confirm_first(query, phrase, decision, reasoning)
        unseen = may_ask and self.unseen_context_guard and not context and _guesses(decision)
        reference = unseen_reference(query) if unseen else None
        if reference:
            decision = _ask_what_they_mean(query, reference, decision, reasoning)
        unnamed = may_ask and self.path_guard and _unnamed_file(given, decision)
        if unnamed:
            decision = _ask_which_file(query, decision, reasoning)
        unscoped = self.scope_guard and invents_scope(decision, given)
        if unscoped:
            decision = _search_everywhere(given, decision, reasoning)
        ruled = self.mode_rule and _with_rule_mode(given, decision)
        if ruled:
            decision = ruled
        return Guarded(decision, low, bool(phrase), unnamed, unscoped, bool(repaired), bool(operation), bool(ruled),
                       bool(copied), bool(reference))

    def may_override(self, query: str, *, answers: bool) -> bool:
        """Whether a guard could replace a decision on this request before it is generated: any tool call
        (`answers=False`), or a direct answer (`answers=True`: only the confidence threshold, the
        destructive guard on a destructive command that is not a question, or the unseen-context guard)."""
        if not answers:
            return (self.confidence_threshold > 0 or self.destructive_guard or self.path_guard or self.scope_guard
                    or self.mode_rule or self.copy_repair or self.unseen_context_guard)
        return self.confidence_threshold > 0 or (
            self.destructive_guard and destructive_phrase(query) is not None and not is_question(query)
        ) or (self.unseen_context_guard and unseen_reference(query) is not None)

    def _validate(self, generation: Generation, reasoning: bool) -> RunningDecision | CompleteDecision:
        if generation.finish_reason == "length":
            raise EngineError(
                f"the decision was cut off at max_tokens={self.max_tokens} before it was complete; "
                f"raise ROUTER_MAX_TOKENS (output so far: {generation.text[:200]!r})"
            )
        try:
            return parse_decision(generation.text, reasoning=reasoning)
        except ValidationError as error:
            raise EngineError(f"the model's output is not a valid decision: {error}") from None

    def _record(self, result: RouteResult) -> None:
        m, g, d = self.metrics, result.generation, result.decision
        tool = d.tool_use.tool_name if isinstance(d, RunningDecision) else "none"
        m.decisions.labels(status=d.status, tool=tool).inc()
        m.prompt_tokens.inc(g.prompt_tokens)
        m.completion_tokens.inc(g.completion_tokens)
        m.forced_tokens.inc(g.forced_tokens)
        for phase in ("prefill", "decode"):
            if f"{phase}_ms" in g.timings:
                m.engine_seconds.labels(phase=phase).observe(g.timings[f"{phase}_ms"] / 1e3)
        if "grammar_compile_ms" in g.timings:
            m.grammar_compile_seconds.observe(g.timings["grammar_compile_ms"] / 1e3)
        m.adapter_requests.labels(adapter=self.engine.adapter_name or "base").inc()


def _replacement(thought: str, tool_use, reasoning: bool) -> RunningDecision:
    """A decision the router writes in place of the model's; with `reasoning` off it carries no thought
    (validated in that mode: a bare constructor would demand one). The thought may quote the request, so it is
    made one line of words the contract accepts (at most 60 characters each)."""
    thought = " ".join(word[:60] for word in thought.split()[:60])
    return RunningDecision.model_validate(
        {"status": "running", "thought": thought if reasoning else None, "tool_use": tool_use},
        context={"reasoning": reasoning},
    )


def _ask_human(thought: str, question: str, context: str, reasoning: bool) -> RunningDecision:
    """The decision that replaces the model's: a question to the user, with what was proposed as context."""
    call = AskHumanCall(tool_name="ask_human", arguments=AskHumanArgs(question=question[:400], context=context[:600]))
    return _replacement(thought, call, reasoning)


def below_threshold(confidence: dict[str, float], threshold: float) -> bool:
    """The confidence rule (`ROUTER_CONFIDENCE_THRESHOLD`): the decision's least confident choice is below
    the threshold. A decision with no confidences reported is never below it."""
    return min(confidence.values(), default=1.0) < threshold


def _ask_to_clarify(
    query: str, proposed: RunningDecision | CompleteDecision, confidence: dict[str, float], reasoning: bool
) -> RunningDecision:
    """Replace a low-confidence decision with a question to the user, saying what was proposed."""
    choice = proposed.tool_use.tool_name if isinstance(proposed, RunningDecision) else "a direct answer"
    scores = ", ".join(f"{key} {p:.2f}" for key, p in confidence.items())
    return _ask_human(
        "The model is unsure how to handle this request, so the user should clarify first",
        f"I am not sure how to handle this request; can you say more about what you want? {query}",
        f"proposed {choice} with low confidence ({scores})",
        reasoning,
    )


def _acts(query: str, decision: RunningDecision | CompleteDecision) -> bool:
    """Whether this decision sets off on the request with a tool other than ask_human, or answers a
    request that is not a question (a destructive command answered with advice was never confirmed).

    Three calls are exempt. A patch of text the user quoted in a file the user named ("delete the line
    `debug=True` in app.py"), into nothing or into text the user wrote too, is an edit they spelled out,
    not a destructive act to confirm; a "patch" of a folder, whose target is the file's own name, or a
    path, text or replacement the user never wrote, is not that edit. So is
    a write to a file the user named of content the user wrote out line by line ("overwrite .env.example
    with:" and the lines); an empty write, content the user did not write as lines, or a request that also
    asks to wipe or drop something is not. And a
    search, read or listing that answers a question about code that destroys ("where do we delete expired
    sessions?", "kill switch for new pricing - where") destroys nothing; a command put politely ("can you
    delete build/?") is still a command.
    """
    if isinstance(decision, CompleteDecision):
        return not is_question(query)
    if decision.tool_use.tool_name == "ask_human":
        return False
    args = decision.tool_use.arguments
    if _reads_only(args) and (asks_for_information(query) or asks_where(query)):
        return False
    quoted_edit = (isinstance(args, FilePatch) and _names_a_file(args.path, query)
                   and args.target_string.strip() != "" and args.target_string in query
                   and args.target_string not in args.path
                   and (args.replacement_string.strip() == "" or args.replacement_string in query))
    written_out = isinstance(args, FileWrite) and _writes_what_the_user_wrote(args, query)
    return not (quoted_edit or written_out)


_CAPITALISED_FILES = frozenset({
    "LICENSE", "README", "CHANGELOG", "CHANGES", "HISTORY", "AUTHORS", "CONTRIBUTORS", "MAINTAINERS", "OWNERS",
    "CODEOWNERS", "NOTICE", "COPYING", "PATENTS", "VERSION", "INSTALL", "SECURITY", "TODO"})
"""Files conventionally named in capitals without an extension; other capitals are a host, a table or a command
(`PRODSQL02`, `DELETE`)."""


def _names_a_file(path: str, query: str) -> bool:
    """The user wrote this path, and it names a file (`app.py`, `.env`, `Dockerfile`, `LICENSE`), not a folder:
    a "patch" of a folder the user asked to clear out ("delete everything under runs/ older than 30 days")
    is a deletion, not an edit, and a "patch" of a server ("run this TRUNCATE on PRODSQL02") is no edit."""
    name = path.rsplit("/", 1)[-1]
    return path in written_paths(query) and ("." in name or name.endswith("file") or name in _CAPITALISED_FILES)


def _writes_what_the_user_wrote(args: FileWrite, query: str) -> bool:
    """A write to a path the user named of content the user wrote out as whole lines of the request, where
    overwriting is the only destructive thing the rest of the request asks for."""
    lines = {line.strip() for line in args.content.splitlines() if line.strip()}
    request = [line.strip() for line in query.splitlines()]
    rest = "\n".join(line for line in request if line not in lines)
    others = {match.group(0).lower() for match in DESTRUCTIVE.finditer(rest)} - {"overwrite"}
    return args.path in query and bool(lines) and lines <= set(request) and not others


def _reads_only(args) -> bool:
    """A search, or a file read or listing: nothing it does can destroy anything."""
    return isinstance(args, CodebaseSearchArgs | FileRead | FileList)


def _confirm_first(
    query: str, phrase: str, proposed: RunningDecision | CompleteDecision, reasoning: bool
) -> RunningDecision:
    """Replace a tool call (or a direct answer) on a destructive-sounding request with a request for confirmation."""
    if isinstance(proposed, RunningDecision):
        call = proposed.tool_use
        was = f"{call.tool_name}: {call.arguments.model_dump_json(exclude_none=True)}"
    else:
        was = f"a direct answer: {proposed.final_answer}"
    return _ask_human(
        f"The request reads as destructive ({phrase}), so a human confirms before anything runs",
        f"This looks destructive ({phrase!r}). Should I go ahead, and on exactly what? {query}",
        f"proposed {was}",
        reasoning,
    )


def _guesses(decision: RunningDecision | CompleteDecision) -> bool:
    """Whether this decision would have to guess what a request that points at unseen context means: a search
    (for the request's words), a program or a direct answer. ask_human already asks, and file_manager only
    reaches a path the user wrote."""
    return isinstance(decision, CompleteDecision) or decision.tool_use.tool_name in ("codebase_search", "sandbox_exec")


def _ask_what_they_mean(
    query: str, reference: str, proposed: RunningDecision | CompleteDecision, reasoning: bool
) -> RunningDecision:
    """Replace a guess at a request that points at context the router cannot see with a question about it."""
    if isinstance(proposed, RunningDecision):
        was = f"{proposed.tool_use.tool_name}: {proposed.tool_use.arguments.model_dump_json(exclude_none=True)}"
    else:
        was = f"a direct answer: {proposed.final_answer}"
    return _ask_human(
        f"The request points at context the router cannot see ({reference}), so the user should spell it out",
        f"I can't see {reference!r} from here. What exactly should change, and where? {query}",
        f"proposed {was}",
        reasoning,
    )


def _file_call(decision: RunningDecision | CompleteDecision) -> FileManagerCall | None:
    """The decision's file_manager call, or None when it answers or calls another tool."""
    if isinstance(decision, RunningDecision) and isinstance(decision.tool_use, FileManagerCall):
        return decision.tool_use
    return None


def _unnamed_file(text: str, decision: RunningDecision | CompleteDecision) -> bool:
    """Whether this decision sends file_manager to a path that does not occur in the user's text."""
    call = _file_call(decision)
    return call is not None and unnamed_path(call.arguments.operation, call.arguments.path, text)


def _with_written_path(text: str, decision: RunningDecision | CompleteDecision) -> RunningDecision | None:
    """The same file_manager call on the path the user wrote that the model's path is a slip of
    (`src/biling.py` for `src/billing.py`: `closest_written_path`) or a piece of (`tasks/x.py` for
    `jizdenky/tasks/x.py`: `whole_written_path`), or None when it is neither."""
    call = _file_call(decision)
    if call is None:
        return None
    path = call.arguments.path
    written = closest_written_path(path, text) if _unnamed_file(text, decision) else whole_written_path(path, text)
    return None if written is None else _with_arguments(decision, path=written)


def _with_path_operation(decision: RunningDecision | CompleteDecision) -> RunningDecision | None:
    """The same file_manager call with the operation its path's shape calls for (`contract.operations`): a
    read of the file it tried to list, a list of the folder it tried to read; None when the operation fits."""
    call = _file_call(decision)
    operation = call and operation_for_path(call.arguments.operation, call.arguments.path)
    if not operation:
        return None
    arguments = (FileRead if operation == "read" else FileList)(operation=operation, path=call.arguments.path)
    return decision.model_copy(update={"tool_use": call.model_copy(update={"arguments": arguments})})


def _with_rule_mode(text: str, decision: RunningDecision | CompleteDecision) -> RunningDecision | None:
    """The same unscoped search in the mode the contract's rule gives its query (`contract.scope.search_mode`),
    or None when it is not an unscoped search or already has that mode. The model picks the query; on
    requests it never saw, the rule picks the mode more often right than the model does (docs/heldout.md)."""
    if not isinstance(decision, RunningDecision) or not isinstance(decision.tool_use, CodebaseSearchCall):
        return None
    args = decision.tool_use.arguments
    if args.file_pattern is not None:
        return None
    mode = search_mode(args.query, text)
    return None if args.mode == mode else _with_arguments(decision, mode=mode)


def _with_written_text(text: str, decision: RunningDecision | CompleteDecision) -> RunningDecision | None:
    """The same write or patch with its content or strings as the user wrote them, where the model's are a slip
    of them (`contract.copying`), or None when it is neither or nothing changes."""
    call = _file_call(decision)
    if call is None:
        return None
    args = call.arguments
    if isinstance(args, FileWrite):
        content = written_content(args.content, text)
        return None if content is None else _with_arguments(decision, content=content)
    if isinstance(args, FilePatch):
        strings = (_removal(args, text) or _swap(args, text)
                   or written_patch(args.target_string, args.replacement_string, text))
        if strings is None or strings == (args.target_string, args.replacement_string):
            return None
        return _with_arguments(decision, target_string=strings[0], replacement_string=strings[1])
    return None


def _removal(args: FilePatch, text: str) -> tuple[str, str] | None:
    """The strings of a patch that removes the one thing a request to remove it quotes
    (`contract.copying.spelled_out_removal`), where the path is a file the user wrote with a `.` or a folder in
    it (a bare capitalised word, "run DELETE FROM ...", is no file to patch). A target that is already text the
    user wrote around that span is kept; the replacement is emptied either way."""
    path = args.path
    if not (_names_a_file(path, text) and ("." in path or "/" in path)):
        return None
    span = spelled_out_removal(path, text)
    if span is None:
        return None
    return (args.target_string if span in args.target_string and args.target_string in text else span), ""


def _swap(args: FilePatch, text: str) -> tuple[str, str] | None:
    """The old and new text of a request that spells out a change of one quoted span into another in the
    file the user named that the patch is of (`contract.copying.spelled_out_swap`). The user's two spans
    replace the model's strings, whatever they were: on every gold row of the data where a request spells a
    swap out, the patch is exactly those two spans."""
    return spelled_out_swap(args.path, text) if _names_a_file(args.path, text) else None


def _with_arguments(decision: RunningDecision, **changes) -> RunningDecision:
    """The same decision, thought included, with some of its tool call's arguments changed."""
    call = decision.tool_use
    return decision.model_copy(update={"tool_use": call.model_copy(update={"arguments": call.arguments.model_copy(
        update=changes)})})


def _ask_which_file(query: str, proposed: RunningDecision, reasoning: bool) -> RunningDecision:
    """Replace a file_manager call on a path the user never gave with a question about which file."""
    args = proposed.tool_use.arguments
    return _ask_human(
        "The request does not name the file this would touch, so the user should say which one",
        f"Which file do you mean? I would {args.operation} `{args.path}`, but your request does not name it. {query}",
        f"proposed file_manager: {args.model_dump_json(exclude_none=True)}",
        reasoning,
    )


def _search_everywhere(text: str, proposed: RunningDecision, reasoning: bool) -> RunningDecision:
    """The same search without its invented scope, in the mode the query's shape calls for; the model's
    thought explained the scope, so it is replaced too."""
    args = proposed.tool_use.arguments
    search = args.model_copy(update={"file_pattern": None, "mode": search_mode(args.query, text)})
    return _replacement("The request names no folder or file type, so the search covers the whole repository",
                        proposed.tool_use.model_copy(update={"arguments": search}), reasoning)
