"""Fit the decision prior: a linear classifier over MiniLM embeddings of the request, on the training split.

The served router multiplies its class probabilities into the adapter's at the decision's two branching
points (`status`, then `tool_name`; `service.decision_prior`). Why a second opinion helps: the adapter is a
135M model fitted to our data, and on phrasings unlike it (the blind held-out sets) it makes confident
class errors; MiniLM was pretrained on a billion sentence pairs, and a classifier on its embeddings errs on
other requests than the adapter does (on the test split and C each is right on 9-18 requests where the
other is wrong). The file it writes is a few KB: the weights, the bias and the class names it was fitted
with, so the server needs neither torch nor this module.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from evaluation.metrics import LABELS as CLASSES
from evaluation.metrics import label
_SCALE = 10.0
"""Embeddings are unit vectors, so their dot products with unit-size weights are small: logits are scaled
by this so the L2 penalty acts on weights of order one."""


def fit_prior(embeddings: np.ndarray, labels: Sequence[str], *, l2: float = 1e-3, max_iter: int = 300,
              row_weights: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by L-BFGS (deterministic: full batch, zero start). Returns the
    weights (dim x classes) and the bias, with the scale folded in: logits = x @ weights + bias.
    `row_weights` counts a row that many times in the loss (1 for every row by default)."""
    import torch

    x = torch.tensor(embeddings, dtype=torch.float32)
    y = torch.tensor([CLASSES.index(name) for name in labels])
    counts = torch.ones(len(labels)) if row_weights is None else torch.tensor(row_weights, dtype=torch.float32)
    counts = counts / counts.sum()
    weights = torch.zeros(x.shape[1], len(CLASSES), requires_grad=True)
    bias = torch.zeros(len(CLASSES), requires_grad=True)
    optimizer = torch.optim.LBFGS([weights, bias], max_iter=max_iter, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimizer.zero_grad()
        losses = torch.nn.functional.cross_entropy(x @ weights * _SCALE + bias, y, reduction="none")
        value = (losses * counts).sum() + l2 * (weights**2).sum()
        value.backward()
        return value

    optimizer.step(loss)
    return (weights.detach() * _SCALE).numpy(), bias.detach().numpy()


def train_prior(train: Path, out: Path, *, also: Sequence[Path] = (), also_weight: float = 1.0,
                l2: float = 1e-3) -> dict:
    """Embed every training request (of `train` and of each file in `also`), fit the classifier, write `out`
    (.npz); returns a summary. `also` adds rows that only the prior learns from: the adapter's training split
    stays what the shipped adapter was trained on (docs/training.md, "Decision prior"); each of them counts
    `also_weight` times in the loss (the blind held-out sets are few beside the training split)."""
    from tool_executors.embedder import MiniLMEmbedder
    from training.formatting import load_examples

    started = time.perf_counter()
    own = load_examples(train)
    extra = [example for path in also for example in load_examples(path)]
    examples = own + extra
    embedder = MiniLMEmbedder(max_tokens=128)
    embeddings = embedder.embed([e.user_query for e in examples])
    labels = [label(e.output) for e in examples]
    weights, bias = fit_prior(embeddings, labels, l2=l2, row_weights=[1.0] * len(own) + [also_weight] * len(extra))
    predicted = np.array(CLASSES)[(embeddings @ weights + bias).argmax(1)]
    summary = {"rows": len(examples), "train_accuracy": round(float((predicted == np.array(labels)).mean()), 4),
               "embedder": embedder.name, "max_tokens": embedder.max_tokens, "l2": l2, "also_weight": also_weight,
               "data": " + ".join(str(path) for path in (train, *also)),
               "seconds": round(time.perf_counter() - started, 1)}
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as file:  # np.savez(path) would append ".npz" to any other name
        np.savez(file, weights=weights.astype(np.float32), bias=bias.astype(np.float32), classes=np.array(CLASSES),
                 meta=np.array(json.dumps(summary)))
    return summary
