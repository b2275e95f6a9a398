"""The embedded default engine: llama-cpp-python over a GGUF, every step masked by llguidance.

We drive the decode loop ourselves instead of calling `Llama.create_completion`, for three reasons:
llguidance masks each step with the exact token set the grammar allows (llama.cpp's own JSON-schema
grammar is 20x slower and lets raw control characters into strings); tokens the grammar forces are fed
to the model in one batch instead of one forward pass each (fast-forward); and the prompt's KV state is
reused across requests up to the longest common token prefix (the fixed system prompt).

Requests are decoded together, not one after another: the per-request decode loop is one coroutine
(`_steps`: it yields the tokens it wants evaluated and receives their logits), and a scheduler thread that
owns the llama.cpp context batches the pending tokens of up to `parallel` sequences into one llama_decode
per step (see `llamacpp_batch`). `generate` (run to the end) and `stream` (pieces as they come) submit
the same coroutine, so the two can never decode differently.
"""

from __future__ import annotations

import asyncio
import codecs
import concurrent.futures
import ctypes
import json
import logging
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import anyio
import numpy as np

from contract import build_messages, grammar_json_schema, render_prompt, render_prompt_parts
from service.engines.base import DeadlineExceeded, Engine, EngineError, Generation, GenerationRequest
from service.engines.llama_load import load_llama
from service.engines.llamacpp_batch import Feed, Scheduler, Sequence, Steps

log = logging.getLogger(__name__)

_GRAMMAR_CACHE_SIZE = 64
# When this few tokens of the budget are left, prefer tokens that close strings and objects, so a
# rambling or looping model still ends with a complete, valid document instead of a cut-off one.
_CLOSING_RESERVE = 32
# Tried in order: first close the open string, then the open objects and arrays.
_CLOSERS = (('"', '"}', '"}}', '"}}}', '"]', '"]}'), ("}", "}}", "}}}", "]"))
# JSON without free whitespace: every token the model spends is latency.
_COMPACT_JSON = {"whitespace_flexible": False}
_N_BATCH = 512
"""Most tokens evaluated in one llama_decode (all sequences together); longer prompts go in chunks."""
_CLOSE_TIMEOUT = 10.0


class LlamaCppEngine(Engine):
    name = "llamacpp"

    def __init__(
        self,
        model_path: Path,
        *,
        adapter_path: Path | None = None,
        n_threads: int | None = None,
        n_ctx: int = 4096,
        parallel: int = 4,
        fast_forward: bool = True,
        prefix_cache: bool = True,
        flash_attn: bool = False,
        cpu_repack: bool = False,
        merged_dir: Path | None = None,
        seed: int = 0,
    ) -> None:
        """`n_ctx` is each request's context window; `parallel` sequences decode together, each with its
        own slot of `n_ctx` tokens of KV cache. `prefix_cache=False` recomputes every prompt whole;
        `fast_forward=False` spends one decode step per forced token (both for measurements);
        `flash_attn=True` makes a request's tokens independent of what is batched with it (see
        `_create_context`), at a cost in speed and in agreement with the default kernel. `cpu_repack=True`
        lets llama.cpp repack the weights for AMX and similar kernels (off: see `llama_load`). With
        `merged_dir`, the adapter is merged into the base weights once, into that folder, and the merged
        model is loaded instead of applying the adapter on every pass (`service.engines.merged`); if the
        merge cannot be made there, the adapter is applied at run time, as without it."""
        import llama_cpp
        from llguidance.llamacpp import lltokenizer_from_vocab

        if parallel < 1:
            raise ValueError(f"parallel must be at least 1, got {parallel}")
        started = time.perf_counter()
        weights, lora = model_path, adapter_path
        if adapter_path and merged_dir is not None:
            weights, lora = _merged_or_not(model_path, adapter_path, merged_dir)
        # The Llama object gives us the model, its vocabulary and the LoRA adapter; its own context is a
        # small placeholder, replaced below by one with `parallel` sequences (Llama cannot set n_seq_max).
        self._llm = load_llama(
            weights,
            cpu_repack=cpu_repack,
            lora_path=str(lora) if lora else None,
            n_ctx=64,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            logits_all=False,
            verbose=False,
        )
        self._llama_cpp = llama_cpp
        self._context = self._create_context(n_ctx, parallel, flash_attn)
        self._n_ctx = n_ctx
        self._n_vocab = self._llm.n_vocab()
        self._eos = self._llm.token_eos()
        vocab = llama_cpp.llama_model_get_vocab(self._llm.model)
        with warnings.catch_warnings():
            # llguidance's helper calls llama_token_get_attr, which llama-cpp-python deprecates with a
            # warning per vocabulary entry (49k here): not ours to fix, and nothing changes for us.
            warnings.simplefilter("ignore", DeprecationWarning)
            self._tokenizer = lltokenizer_from_vocab(vocab)
        metadata = self._llm.metadata
        self._chat_template = metadata.get("tokenizer.chat_template")
        if not self._chat_template:
            raise EngineError(f"{model_path} has no chat template in its GGUF metadata")
        self._bos_text = self._token_text(self._llm.token_bos())
        self._eos_text = self._token_text(self._eos)
        self._fast_forward = fast_forward
        self._closers = [self._single_tokens(group) for group in _CLOSERS]
        self._rng = np.random.default_rng(seed)
        self._matchers: OrderedDict[str, Any] = OrderedDict()
        self._matchers_lock = threading.Lock()
        self.parallel = parallel
        self._scheduler = Scheduler(
            llama_cpp,
            self._context.ctx,
            n_slots=parallel,
            n_batch=_N_BATCH,
            n_vocab=self._n_vocab,
            prefix_cache=prefix_cache,
            detokenize=self._llm.detokenize,
        )
        self._lock = self._scheduler.lock
        """Held by the scheduler while it decodes; holding it sees the context quiet."""
        self.model_name = Path(model_path).stem
        self.adapter_name = _adapter_name(Path(adapter_path)) if adapter_path else None
        self.load_seconds = time.perf_counter() - started
        self.merged = weights != model_path
        """The adapter is in the weights (a merged GGUF), not applied on every pass."""
        log.info(
            "loaded %s in %.2fs (adapter: %s%s, %d sequence slots of %d tokens)",
            weights,
            self.load_seconds,
            adapter_path,
            ", merged into the weights" if self.merged else "",
            parallel,
            n_ctx,
        )

    def _create_context(self, n_ctx: int, parallel: int, flash_attn: bool):
        """A context with `parallel` sequences, each with its own KV stream of `n_ctx` tokens.

        Batching is exact in what it computes, not in how it rounds: with the default attention, ggml's
        kernels for a step of several sequences (and for the LoRA matmuls) sum in another order than for
        one, so a request decoded alongside others can take another branch at a near-tie. One request at
        a time decodes exactly as before batching. With flash attention and no adapter, each query's
        attention runs over its own sequence's cells in order, one query at a time (below ggml's tile
        size, see llamacpp_batch.MAX_CHUNK), and batched decoding is bit-identical to decoding alone; it is
        not the default because it changes the default kernel's outputs, is slower here, and with a LoRA
        adapter still differs under batching (docs/speed.md, "Concurrency")."""
        from llama_cpp._internals import LlamaContext

        llama_cpp, llm = self._llama_cpp, self._llm
        params = llm.context_params
        params.n_ctx = n_ctx * parallel
        params.n_batch = params.n_ubatch = _N_BATCH
        params.n_seq_max = parallel
        if flash_attn:
            params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
        # One KV stream per slot: a sequence's cells stay contiguous and in order, as when it runs alone.
        params.kv_unified = False
        context = LlamaContext(model=llm._model, params=params, verbose=False)
        if llama_cpp.llama_n_ctx_seq(context.ctx) < n_ctx:
            raise EngineError(
                f"llama.cpp gave each sequence {llama_cpp.llama_n_ctx_seq(context.ctx)} tokens, not {n_ctx}"
            )
        if llm._lora_adapter is not None:
            adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(llm._lora_adapter)
            scales = (ctypes.c_float * 1)(llm.lora_scale)
            if llama_cpp.llama_set_adapters_lora(context.ctx, adapters, 1, scales):
                raise EngineError(f"cannot apply the LoRA adapter {llm.lora_path}")
        placeholder, llm._ctx = (
            llm._ctx,
            context,
        )  # Llama.close() now frees ours (model first frees its contexts)
        placeholder.close()
        return context

    # --- public interface -----------------------------------------------------------------

    async def generate(self, request: GenerationRequest) -> Generation:
        prompt, matcher, compile_ms = await anyio.to_thread.run_sync(self._prepare, request)
        future: concurrent.futures.Future = concurrent.futures.Future()
        sequence = self._submit(request, prompt, matcher, compile_ms, lambda item: _settle(future, item))
        try:
            return await asyncio.wrap_future(future)
        finally:
            sequence.cancelled = True  # done already, or abandoned by the caller: free the slot

    async def warm_up(self) -> None:
        """Compile the decision grammars and run one routing request through the model."""
        for reasoning in (True, False):
            self._matcher_for(grammar_json_schema(reasoning=reasoning))
        await self.generate(
            GenerationRequest(
                messages=build_messages("where is the User class defined?"),
                json_schema=grammar_json_schema(),
                max_tokens=64,
            )
        )

    async def close(self) -> None:
        """Stop the scheduler (unfinished requests get an EngineError), then free the model."""
        if await anyio.to_thread.run_sync(self._scheduler.close, _CLOSE_TIMEOUT):
            self._llm.close()
        else:  # a native call is stuck: freeing the model under it would crash the process
            log.warning(
                "the decode scheduler did not stop within %.0fs; the model is left allocated", _CLOSE_TIMEOUT
            )

    def busy_slots(self) -> int:
        """Sequences decoding right now (at most `parallel`)."""
        return self._scheduler.busy()

    @property
    def most_batched(self) -> int:
        """The most sequences one decode step has evaluated together since the engine started."""
        return self._scheduler.most_batched

    def clear_cache(self) -> None:
        """Forget the cached prompt prefixes of all idle slots."""
        self._scheduler.clear_cache()

    def render(self, messages: list[dict[str, str]]) -> str:
        """The prompt text for these messages, through the contract's one prompt builder."""
        return render_prompt(
            messages, self._chat_template, bos_token=self._bos_text, eos_token=self._eos_text
        )

    def tokenize_prompt(self, messages: list[dict[str, str]]) -> list[int]:
        """The template's special tokens are special; the messages' text is only ever text.

        The template writes any special tokens itself (no BOS added), as Hugging Face's
        apply_chat_template does; a request containing "<|im_end|>" cannot open a chat turn.
        """
        parts = render_prompt_parts(
            messages, self._chat_template, bos_token=self._bos_text, eos_token=self._eos_text
        )
        tokens: list[int] = []
        for text, is_template in parts:
            tokens += self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=is_template)
        return tokens

    def generate_sync(self, request: GenerationRequest) -> Generation:
        prompt, matcher, compile_ms = self._prepare(request)
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._submit(request, prompt, matcher, compile_ms, lambda item: _settle(future, item))
        return future.result()

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | Generation]:
        """Text pieces as the decode loop makes them (whole UTF-8 characters only), then the Generation.

        The scheduler feeds a queue; closing this iterator (a client that disconnects) cancels the
        sequence, and the scheduler frees its slot at its next step.
        """
        prompt, matcher, compile_ms = await anyio.to_thread.run_sync(self._prepare, request)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        def put(item) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is gone: nobody is listening any more
                sequence.cancelled = True

        sequence = self._submit(request, prompt, matcher, compile_ms, put, stream=True)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            while True:
                item = await queue.get()
                if isinstance(item, Exception):
                    raise item
                if isinstance(item, Generation):
                    if tail := decoder.decode(b"", final=True):
                        yield tail
                    yield item
                    return
                if piece := decoder.decode(item):
                    yield piece
        finally:
            sequence.cancelled = True

    # --- internals ------------------------------------------------------------------------

    def _single_tokens(self, texts: tuple[str, ...]) -> np.ndarray:
        """Token ids of those texts that are one token in this vocabulary."""
        ids = [self._llm.tokenize(t.encode(), add_bos=False, special=False) for t in texts]
        return np.array(sorted({i[0] for i in ids if len(i) == 1}), dtype=np.int64)

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    def _matcher_for(self, schema: dict[str, Any]) -> tuple[Any, float]:
        """A fresh matcher for this schema, and the milliseconds spent compiling it (0 when cached).

        Compiled grammars are cached and deep-copied."""
        key = json.dumps(schema, sort_keys=True)
        with self._matchers_lock:
            return self._matcher_locked(key, schema)

    def _matcher_locked(self, key: str, schema: dict[str, Any]) -> tuple[Any, float]:
        from llguidance import LLMatcher

        pristine = self._matchers.get(key)
        started = time.perf_counter()
        if pristine is None:
            grammar = LLMatcher.grammar_from_json_schema(schema, defaults=_COMPACT_JSON)
            pristine = LLMatcher(self._tokenizer, grammar, log_level=0)
            if pristine.is_error():
                raise ValueError(f"the JSON schema cannot be compiled to a grammar: {pristine.get_error()}")
            self._matchers[key] = pristine
            if len(self._matchers) > _GRAMMAR_CACHE_SIZE:
                self._matchers.popitem(last=False)
        else:
            self._matchers.move_to_end(key)
            return pristine.deep_copy(), 0.0
        return pristine.deep_copy(), (time.perf_counter() - started) * 1e3

    def _choose(self, logits: np.ndarray, temperature: float) -> int:
        if temperature <= 0:
            return int(np.argmax(logits))
        scaled = (logits - logits.max()) / temperature
        probs = np.exp(scaled)
        return int(self._rng.choice(self._n_vocab, p=probs / probs.sum()))

    def _allowed(self, matcher, bitmask: np.ndarray) -> np.ndarray:
        from llguidance.numpy import fill_next_token_bitmask

        fill_next_token_bitmask(matcher, bitmask)
        bits = np.unpackbits(bitmask.view(np.uint8), bitorder="little")
        return bits[: self._n_vocab].astype(bool)

    def _forced(self, matcher, budget: int, branches: _BranchWatch) -> list[int]:
        """The tokens the grammar forces from here (at most `budget`), consumed; none without fast-forward."""
        if matcher is None or not self._fast_forward:
            return []
        forced = matcher.compute_ff_tokens()[:budget]
        if forced:
            if not matcher.consume_tokens(forced):
                raise EngineError(f"grammar rejected its own forced tokens: {matcher.get_error()}")
            branches.forced(self._llm.detokenize(forced))
        return forced

    def _prepare(self, request: GenerationRequest) -> tuple[list[int], Any, float]:
        """Check the request, tokenize the prompt and compile the grammar: every error before decoding."""
        if self._scheduler.closed:
            raise EngineError("the engine is closed")
        if request.adapter not in (None, self.adapter_name):
            raise EngineError(f"adapter {request.adapter!r} is not loaded; loaded: {self.adapter_name!r}")
        prompt = self.tokenize_prompt(request.messages)
        if len(prompt) + request.max_tokens > self._n_ctx:
            raise ValueError(
                f"prompt of {len(prompt)} tokens plus max_tokens={request.max_tokens} exceeds the "
                f"context window of {self._n_ctx} tokens"
            )
        if request.json_schema is None:
            return prompt, None, 0.0
        return prompt, *self._matcher_for(request.json_schema)

    def _submit(
        self,
        request: GenerationRequest,
        prompt: list[int],
        matcher,
        compile_ms: float,
        sink: Callable[[Any], None],
        *,
        stream: bool = False,
    ) -> Sequence:
        def start(cached: int) -> Steps:
            return self._steps(prompt, matcher, request, compile_ms, cached)

        sequence = Sequence(request, prompt, start, sink, stream=stream)
        self._scheduler.submit(sequence)
        return sequence

    def _steps(
        self, prompt: list[int], matcher, request: GenerationRequest, compile_ms: float, cached: int
    ) -> Steps:
        """The decode loop of one request as a coroutine: it yields a `Feed` of the tokens to evaluate
        next (first the uncached prompt, then each sampled token or a batch the grammar forced), receives
        the logits of the last of them, and returns the Generation. Runs on the scheduler thread."""
        from llguidance.numpy import allocate_token_bitmask

        started = time.perf_counter()
        branches = _BranchWatch(request.confidence_keys, request.branch_prior, self._llm.detokenize)
        # The output's opening forced tokens ({"status":") ride along with the prompt: one pass, not two.
        output = self._forced(matcher, request.max_tokens, branches)
        forced = len(output)
        logits = yield Feed(prompt[cached:] + output, n_output=len(output))
        prefilled = time.perf_counter()
        first_token: float | None = prefilled if output else None
        bitmask = allocate_token_bitmask(1, self._n_vocab)
        finish_reason = "length"
        truncated = False
        while len(output) < request.max_tokens:
            if request.deadline is not None and time.monotonic() > request.deadline:
                raise DeadlineExceeded(f"deadline passed after {len(output)} generated tokens")
            assert logits is not None
            if matcher is not None:
                allowed = self._allowed(matcher, bitmask)
                if matcher.is_accepting() and allowed.sum() == int(allowed[self._eos]):
                    finish_reason = "stop"  # the grammar is complete and admits nothing but the end
                    break
                if len(output) >= request.max_tokens - _CLOSING_RESERVE:
                    closing = next((ids[allowed[ids]] for ids in self._closers if allowed[ids].any()), None)
                    if closing is not None:
                        allowed = np.zeros_like(allowed)
                        allowed[closing] = True
                        truncated = True
                logits[~allowed] = -np.inf
                branches.steer(logits)
            elif request.ignore_eos:
                logits[self._eos] = -np.inf
            token = self._choose(logits, request.temperature)
            branches.sampled(self._llm.detokenize([token]), logits, token)
            if token == self._eos:
                finish_reason = "stop"
                break
            if matcher is not None and not matcher.consume_token(token):
                raise EngineError(f"grammar rejected a token it allowed: {matcher.get_error()}")
            # The tokens the grammar forces after this one go into the same pass: the logits between
            # them would decide nothing.
            ff = self._forced(matcher, request.max_tokens - len(output) - 1, branches)
            output += [token, *ff]
            forced += len(ff)
            first_token = first_token or time.perf_counter()
            # A complete decision needs no logits after its last token: that pass is skipped.
            complete = matcher is not None and matcher.is_stopped()
            logits = yield Feed([token, *ff], n_output=1 + len(ff),
                                wants_logits=not complete and len(output) < request.max_tokens)  # fmt: skip
            if complete:
                finish_reason = "stop"
                break
        if matcher is not None and finish_reason == "stop" and not matcher.is_accepting():
            raise EngineError("the model stopped before its output matched the grammar")
        done = time.perf_counter()
        text = self._llm.detokenize(output).decode("utf-8", errors="replace")
        timings = {"prefill_ms": (prefilled - started) * 1e3, "decode_ms": (done - prefilled) * 1e3}
        if compile_ms:
            timings["grammar_compile_ms"] = compile_ms
        if first_token is not None:
            timings["first_token_ms"] = (first_token - started) * 1e3
        return Generation(
            text=text,
            prompt_tokens=len(prompt),
            completion_tokens=len(output),
            finish_reason=finish_reason,
            forced_tokens=forced,
            truncated=truncated,
            confidence=branches.confidence,
            cached_tokens=cached,
            timings=timings,
        )


def _merged_or_not(model_path: Path, adapter_path: Path, merged_dir: Path) -> tuple[Path, Path | None]:
    """(weights, LoRA to apply): the merged model and none, or, if it cannot be made (a read-only folder,
    the gguf package missing: `pip install agent-router[merge]`), the base and the adapter, with a warning that
    says why."""
    try:
        from service.engines.merged import merged_model

        return merged_model(model_path, adapter_path, merged_dir), None
    except (OSError, ImportError, ValueError) as error:
        log.warning("cannot merge %s into %s in %s (%s); applying it on every pass instead", adapter_path,
                    model_path, merged_dir, error)
        return model_path, adapter_path


def _adapter_name(path: Path) -> str:
    """What /v1/models calls an adapter: its file's stem, or its folder's name for a generic file name
    (models/router-smollm2/adapter.gguf is "router-smollm2")."""
    return path.parent.name if path.stem == "adapter" else path.stem


class _BranchWatch:
    """Notes the probability of each decision the model makes at a branching key, at no extra cost, and
    adds the request's prior for that decision to the logits first, if it has one.

    A branching point is the first token of the string value of a watched key (`"tool_name":"`): the
    logits of that step are already computed, so its probability is a softmax away.
    """

    def __init__(self, keys: tuple[str, ...], prior: dict[str, dict[str, float]] | Future | None = None,
                 detokenize: Callable[[list[int]], bytes] | None = None) -> None:
        self._markers = {f'"{key}":"'.encode(): key for key in keys}
        self._tail = b""
        self._prior = prior or {}
        self._detokenize = detokenize
        self.confidence: dict[str, float] = {}

    def _pending(self) -> str | None:
        """The watched key whose value starts at the next token, if any."""
        return next(
            (k for m, k in self._markers.items() if k not in self.confidence and self._tail.endswith(m)), None
        )

    def forced(self, piece: bytes) -> None:
        if key := self._pending():  # the grammar forced the value: no choice, certainty
            self.confidence[key] = 1.0
        window = self._tail + piece
        for marker, key in self._markers.items():
            at = window.rfind(marker)
            # A marker that ends inside this batch, with the value's first bytes after it.
            if key not in self.confidence and at != -1 and len(self._tail) < at + len(marker) < len(window):
                self.confidence[key] = 1.0  # marker and the value's start both forced in one batch
        self._tail = window[-64:]

    def steer(self, masked_logits: np.ndarray) -> None:
        """At a branching point with a prior, add each value's log-weight to the tokens that start it (a
        token that starts several values gets the log of their summed weights). A weight of minus infinity
        rules a value out, unless that would leave the grammar nothing to choose (a chat request's
        tool_choice can allow only the value a question cue rules out)."""
        key = self._pending()
        if key is None or not self._prior or self._detokenize is None:
            return
        if isinstance(self._prior, Future):  # started with the request; done by now, as a rule
            self._prior = self._prior.result()
        values = self._prior.get(key)
        if not values:
            return
        allowed = np.flatnonzero(np.isfinite(masked_logits))
        before = masked_logits[allowed]
        for token in allowed:
            text = self._detokenize([int(token)]).decode("utf-8", errors="ignore")
            weights = [w for value, w in values.items()
                       if text and (value.startswith(text) or text.startswith(value))]
            if weights:
                masked_logits[token] += np.logaddexp.reduce(weights)
        if not np.isfinite(masked_logits[allowed]).any():
            masked_logits[allowed] = before  # a prior that rules out every value the grammar allows is ignored

    def sampled(self, piece: bytes, masked_logits: np.ndarray, token: int) -> None:
        if self._markers and (key := self._pending()):
            finite = masked_logits[np.isfinite(masked_logits)]
            self.confidence[key] = float(1.0 / np.exp(finite - masked_logits[token]).sum())
        self._tail = (self._tail + piece)[-64:]


def _settle(future: concurrent.futures.Future, item: Any) -> None:
    """Hand a sequence's result or error to a waiting caller; pieces (bytes) are not for it."""
    if isinstance(item, bytes) or future.done():
        return
    try:
        if isinstance(item, BaseException):
            future.set_exception(item)
        else:
            future.set_result(item)
    except concurrent.futures.InvalidStateError:  # cancelled by its caller meanwhile
        pass
