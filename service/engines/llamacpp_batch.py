"""Continuous batching for the llama.cpp engine: N sequence slots on one context, one decode per tick.

Each request is a `Sequence`: a decode coroutine (the engine's `_steps`) that yields a `Feed` (the tokens
it wants evaluated) and receives the logits of the last of them. A single scheduler thread owns the
llama.cpp context. Each tick it gathers the pending tokens of every active sequence into one llama_batch
(each token tagged with its sequence's slot id; logits only at each sequence's last token), calls
llama_decode once, and hands each sequence its row of logits. On a CPU the weights are read once per
tick for all sequences, so four sequences cost far less than four times one.

Slots keep the KV state of their last request: a new request takes the free slot whose cached tokens
share the longest prefix with its prompt (the fixed system prompt is not recomputed). Requests beyond
the slots wait here, in arrival order; the service's admission control bounds how many can wait.

What a sequence cannot do to the others: its deadline, its grammar error, or its client leaving ends
that sequence only (its slot is free at the next tick). A failed llama_decode fails the sequences of
that batch and forgets their slots' caches.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.engines.base import DeadlineExceeded, EngineError, Generation, GenerationRequest

log = logging.getLogger(__name__)

MAX_CHUNK = 63
"""Most tokens of one sequence in one decode. ggml's CPU flash attention switches to a tiled kernel at 64
queries of a sequence, whose rounding differs from the one-query kernel that decode steps use; below it,
with flash attention, a token's values do not depend on how its prompt was chunked, cached or batched."""
_IDLE_WAIT = 0.5
"""Seconds the scheduler sleeps with nothing to do before it re-checks waiting requests' deadlines."""


@dataclass
class Feed:
    """What a decode coroutine asks for: evaluate these tokens, then send me the last one's logits."""

    tokens: list[int]
    n_output: int
    """How many of the tokens, at the end, are generated output (streamed to the client); the rest is
    prompt. A request's first feed can hold both: its uncached prompt and the tokens the grammar forces
    at the start of the output, evaluated in one pass."""
    wants_logits: bool = True
    """False for the last output of a finished sequence: it is handed out but not evaluated."""


Steps = Generator[Feed, "np.ndarray | None", Generation]


class Sequence:
    """One request in flight: its decode coroutine, where it stands, and where its results go.

    `sink` is called on the scheduler thread with each output piece (bytes, when `stream`), then the
    Generation, or an exception. Setting `cancelled` (any thread) ends it at the next tick.
    """

    def __init__(
        self,
        request: GenerationRequest,
        prompt: list[int],
        start: Callable[[int], Steps],
        sink: Callable[[Any], None],
        *,
        stream: bool = False,
    ) -> None:
        self.request = request
        self.stream = stream
        """Deliver output pieces as they come (else only the result)."""
        self.prompt = prompt
        self.start = start
        self.sink = sink
        self.cancelled = False
        self.steps: Steps | None = None
        self.pending: list[int] = []
        """Tokens of the current feed not yet evaluated."""
        self.wants_logits = True

    def deliver(self, item: Any) -> None:
        try:
            self.sink(item)
        except Exception:  # noqa: BLE001 - a consumer's failure must not stop the scheduler
            log.exception("a sequence's consumer failed")


class _Slot:
    def __init__(self, seq_id: int) -> None:
        self.seq_id = seq_id
        self.tokens: list[int] = []
        """The tokens whose KV state this slot holds, in order."""
        self.sequence: Sequence | None = None
        self.last_used = 0.0


class Scheduler:
    """Owns the llama.cpp context on one thread; sequences are submitted from any thread."""

    def __init__(
        self,
        llama_cpp,
        ctx,
        *,
        n_slots: int,
        n_batch: int,
        n_vocab: int,
        prefix_cache: bool,
        detokenize: Callable[[list[int]], bytes],
    ) -> None:
        self._lib = llama_cpp
        self._ctx = ctx
        self._memory = llama_cpp.llama_get_memory(ctx)
        self._n_batch = n_batch
        self._n_vocab = n_vocab
        self._prefix_cache = prefix_cache
        self._detokenize = detokenize
        self._batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self.slots = [_Slot(i) for i in range(n_slots)]
        self._waiting: deque[Sequence] = deque()
        self._wake = threading.Condition()
        self._closing = False
        self.most_batched = 0
        """The most sequences one llama_decode has evaluated together (a measure, and for tests)."""
        self.lock = threading.Lock()
        """Held while the scheduler touches the context (a tick); hold it to see a quiet engine."""
        self._thread = threading.Thread(target=self._run, name="llamacpp-scheduler", daemon=True)
        self._thread.start()

    # --- any thread ---------------------------------------------------------------------------------

    def submit(self, sequence: Sequence) -> None:
        with self._wake:
            if self._closing:
                raise EngineError("the engine is closed")
            self._waiting.append(sequence)
            self._wake.notify()

    @property
    def closed(self) -> bool:
        return self._closing

    def busy(self) -> int:
        """Sequences holding a slot right now."""
        return sum(slot.sequence is not None for slot in self.slots)

    def clear_cache(self) -> None:
        """Forget every slot's cached prefix (the next request on each recomputes its whole prompt)."""
        with self.lock:
            for slot in self.slots:
                if slot.sequence is None:
                    self._lib.llama_memory_seq_rm(self._memory, slot.seq_id, -1, -1)
                    slot.tokens = []

    def close(self, timeout: float) -> bool:
        """Stop the scheduler; every unfinished sequence gets an EngineError. False if it did not stop."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        self._lib.llama_batch_free(self._batch)
        return True

    # --- the scheduler thread -------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._wake:
                if self._closing:
                    break
                if not self._waiting and not self.busy():
                    self._wake.wait(_IDLE_WAIT)
                    continue
            try:
                with self.lock:
                    self._admit()
                    self._tick()
            except Exception as error:  # noqa: BLE001 - a bug here must fail requests, not hang them
                log.exception("scheduler tick failed")
                self._fail_all(EngineError(f"the decode scheduler failed: {type(error).__name__}: {error}"))
        self._fail_all(EngineError("the engine was closed before this request finished"))

    def _fail_all(self, error: Exception) -> None:
        with self._wake:
            waiting, self._waiting = list(self._waiting), deque()
        for sequence in waiting:
            sequence.deliver(error)
        for slot in self.slots:
            if slot.sequence is not None:
                self._end(slot, error, forget=True)

    def _admit(self) -> None:
        """Give free slots to waiting sequences, in arrival order; expire those past their deadline."""
        with self._wake:
            waiting = list(self._waiting)
        now = time.monotonic()
        for sequence in waiting:
            if sequence.cancelled:
                self._drop_waiting(sequence, None)
            elif sequence.request.deadline is not None and now > sequence.request.deadline:
                self._drop_waiting(
                    sequence, DeadlineExceeded("deadline passed while waiting for a free sequence slot")
                )
        while True:
            with self._wake:
                if not self._waiting:
                    return
                free = [slot for slot in self.slots if slot.sequence is None]
                if not free:
                    return
                sequence = self._waiting.popleft()
            self._start(sequence, free)

    def _drop_waiting(self, sequence: Sequence, error: Exception | None) -> None:
        with self._wake:
            if sequence in self._waiting:
                self._waiting.remove(sequence)
        if error is not None:
            sequence.deliver(error)

    def _start(self, sequence: Sequence, free: list[_Slot]) -> None:
        prompt = sequence.prompt
        reusable = {s.seq_id: _shared(s.tokens, prompt) if self._prefix_cache else 0 for s in free}
        slot = max(free, key=lambda s: (reusable[s.seq_id], -s.last_used))
        # Always evaluate at least the last prompt token: its logits choose the first output token.
        cached = min(reusable[slot.seq_id], len(prompt) - 1)
        self._lib.llama_memory_seq_rm(self._memory, slot.seq_id, cached, -1)
        slot.tokens = slot.tokens[:cached]
        slot.sequence = sequence
        sequence.steps = sequence.start(cached)
        self._advance(slot, None)

    def _advance(self, slot: _Slot, logits: np.ndarray | None) -> None:
        """Run the sequence's coroutine to its next feed (or its end)."""
        sequence = slot.sequence
        assert sequence is not None and sequence.steps is not None
        while True:
            try:
                feed = sequence.steps.send(logits)
            except StopIteration as done:
                self._end(slot, done.value)
                return
            except Exception as error:  # noqa: BLE001 - this request's failure (deadline, grammar), not ours
                self._end(slot, error)
                return
            if feed.n_output and sequence.stream:
                sequence.deliver(self._detokenize(feed.tokens[-feed.n_output :]))
            if feed.wants_logits:
                sequence.pending = list(feed.tokens)
                return
            logits = None  # the sequence is finishing: it takes no more logits

    def _end(self, slot: _Slot, result: Any, *, forget: bool = False) -> None:
        sequence = slot.sequence
        assert sequence is not None
        if sequence.steps is not None:
            sequence.steps.close()
        slot.sequence = None
        slot.last_used = time.monotonic()
        if forget:
            self._lib.llama_memory_seq_rm(self._memory, slot.seq_id, -1, -1)
            slot.tokens = []
        if result is not None:
            sequence.deliver(result)

    def _tick(self) -> None:
        """One llama_decode over the pending tokens of every active sequence."""
        for slot in self.slots:
            if slot.sequence is not None and slot.sequence.cancelled:
                log.info("sequence abandoned by its consumer after %d tokens", len(slot.tokens))
                self._end(slot, None)
        active = [slot for slot in self.slots if slot.sequence is not None and slot.sequence.pending]
        if not active:
            return
        # Short feeds (decode steps, forced tokens) first; a prompt is evaluated in chunks of at most
        # MAX_CHUNK tokens, one per tick, so a long prompt delays the others' steps by little.
        active.sort(key=lambda slot: len(slot.sequence.pending))
        batch, room = self._batch, self._n_batch
        batch.n_tokens = 0
        rows: list[tuple[_Slot, int]] = []
        included: list[tuple[_Slot, int]] = []
        for slot in active:
            sequence = slot.sequence
            take = min(len(sequence.pending), room, MAX_CHUNK)
            if take == 0:
                break
            for i, token in enumerate(sequence.pending[:take]):
                k = batch.n_tokens
                batch.token[k] = token
                batch.pos[k] = len(slot.tokens) + i
                batch.n_seq_id[k] = 1
                batch.seq_id[k][0] = slot.seq_id
                batch.logits[k] = take == len(sequence.pending) and i == take - 1
                batch.n_tokens += 1
            if take == len(sequence.pending):
                rows.append((slot, batch.n_tokens - 1))
            included.append((slot, take))
            room -= take
        self.most_batched = max(self.most_batched, len(included))
        status = self._lib.llama_decode(self._ctx, batch)
        if status != 0:
            error = EngineError(f"llama_decode returned {status}")
            for slot, _ in included:
                self._end(slot, error, forget=True)
            return
        for slot, take in included:
            sequence = slot.sequence
            slot.tokens += sequence.pending[:take]
            sequence.pending = sequence.pending[take:]
        for slot, row in rows:
            pointer = self._lib.llama_get_logits_ith(self._ctx, row)
            logits = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,)).copy()
            self._advance(slot, logits)


def _shared(cached: list[int], prompt: list[int]) -> int:
    """Length of the longest common prefix."""
    n = min(len(cached), len(prompt))
    for i in range(n):
        if cached[i] != prompt[i]:
            return i
    return n
