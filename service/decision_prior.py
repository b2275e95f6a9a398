"""The decision prior at serving time: MiniLM's opinion of the request's class, as log-weights for the engine.

`router train prior` fits a linear classifier over MiniLM embeddings of the training requests
(`training/prior.py`) and writes a small .npz. For each request the router embeds the query (tens of
milliseconds on one core), turns the classifier's five class probabilities into log-weights for the
decision's two branching points and hands them to the engine (`GenerationRequest.branch_prior`): at
`status` the adapter's logits of `complete` and `running` get `weight * log p(answer)` and
`weight * log(1 - p(answer))`; at `tool_name` each tool's gets `weight * log p(tool | not answer)`. The
engine decides with the adapter's logits plus these, a product of the two models at those two steps only;
everything else (the thought, the arguments) is the adapter's. `weight` 0 turns it off.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from contract import TOOLS
_FLOOR = 1e-6
"""Smallest probability taken from the classifier: its log-weight stays finite, so the adapter can still
outvote it."""


class PriorError(ValueError):
    """The prior file is missing, unreadable or not one `router train prior` wrote."""


class DecisionPrior:
    def __init__(self, path: Path, weight: float) -> None:
        try:
            with np.load(path) as data:
                self.weights, self.bias = data["weights"], data["bias"]
                self.classes = [str(c) for c in data["classes"]]
                self.meta = json.loads(str(data["meta"]))
        except (OSError, KeyError, ValueError) as error:
            raise PriorError(f"decision prior {str(path)!r} cannot be read ({error}); "
                             "write one with `router train prior`") from error
        if sorted(self.classes) != sorted((*TOOLS, "answer")) or self.weights.shape != (384, len(self.classes)):
            raise PriorError(f"decision prior {str(path)!r} is not a MiniLM classifier over the five decisions")
        self.path, self.weight = path, weight
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decision-prior")
        """One thread: embeddings run one at a time, beside the engine's scheduler thread."""

    def _embedder(self):
        from tool_executors.embedder import shared_embedder

        return shared_embedder(self.meta.get("max_tokens", 128))

    def warm_up(self) -> None:
        """Load MiniLM now (about a second), not on the first request."""
        self.probabilities("warm up")

    def probabilities(self, query: str) -> dict[str, float]:
        logits = self._embedder().embed([query])[0] @ self.weights + self.bias
        p = np.exp(logits - logits.max())
        return dict(zip(self.classes, (p / p.sum()).tolist(), strict=True))

    def submit(self, query: str, plus: dict[str, dict[str, float]] | None = None) -> Future:
        """`branch_weights(query)`, computed on the prior's own thread, with the log-weights of `plus` added."""
        return self._worker.submit(lambda: add_weights(self.branch_weights(query), plus or {}))

    def close(self) -> None:
        """Stop the prior's thread (an embedding under way is dropped), so shutdown leaves no thread behind."""
        self._worker.shutdown(wait=False, cancel_futures=True)

    def branch_weights(self, query: str) -> dict[str, dict[str, float]]:
        """`GenerationRequest.branch_prior` for this query."""
        p = {name: max(value, _FLOOR) for name, value in self.probabilities(query).items()}
        answer = min(p["answer"], 1 - _FLOOR)

        def weight(probability: float) -> float:
            return float(self.weight * np.log(probability))

        return {"status": {"complete": weight(answer), "running": weight(1 - answer)},
                "tool_name": {tool: weight(p[tool] / (1 - answer)) for tool in TOOLS}}


def add_weights(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Two sets of branching-point log-weights as one: their sum for each key and value (absent is 0)."""
    return {key: {value: a.get(key, {}).get(value, 0.0) + b.get(key, {}).get(value, 0.0)
                  for value in a.get(key, {}).keys() | b.get(key, {}).keys()}
            for key in a.keys() | b.keys()}
