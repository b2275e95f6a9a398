"""Run targets over a test split and score them."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

from contract import TrainingExample, dump_decision
from evaluation.metrics import Outcome, Scores, score


def sample(examples: list[TrainingExample], limit: int | None, seed: int = 0) -> list[TrainingExample]:
    """A seeded subset that keeps the split's order (the same rows for every target)."""
    if not limit or limit >= len(examples):
        return examples
    keep = sorted(random.Random(seed).sample(range(len(examples)), limit))
    return [examples[i] for i in keep]


async def run_target(target, examples: list[TrainingExample],
                     progress: Callable[[int, int], None] | None = None) -> list[Outcome]:
    outcomes = []
    for i, example in enumerate(examples, start=1):
        outcomes.append(await target.route(example.user_query))
        if progress:
            progress(i, len(examples))
    return outcomes


def write_predictions(path: Path, examples: list[TrainingExample], outcomes: list[Outcome]) -> None:
    with path.open("w") as f:
        for example, outcome in zip(examples, outcomes):
            f.write(json.dumps({
                "user_query": example.user_query,
                "gold": json.loads(dump_decision(example.output)),
                "predicted": json.loads(dump_decision(outcome.decision)) if outcome.decision else None,
                "error": outcome.error, "latency_ms": round(outcome.latency_ms, 1),
                "confidence": {key: round(p, 4) for key, p in outcome.confidence.items()},
            }, ensure_ascii=False) + "\n")


async def evaluate(targets: dict[str, tuple[object, list[TrainingExample]]], out: Path,
                   progress: Callable[[str, int, int], None] | None = None) -> tuple[dict[str, Scores], dict[str, list[float]]]:
    """Each target on its examples; writes `predictions-<name>.jsonl` under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    results, latencies = {}, {}
    for name, (target, examples) in targets.items():
        outcomes = await run_target(target, examples, (lambda i, n, name=name: progress(name, i, n)) if progress else None)
        results[name] = score(examples, outcomes)
        latencies[name] = [o.latency_ms for o in outcomes if o.decision is not None]
        write_predictions(out / f"predictions-{name.replace(' ', '-')}.jsonl", examples, outcomes)
    return results, latencies
