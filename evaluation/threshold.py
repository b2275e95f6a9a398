"""What a confidence threshold would have done to a finished `router eval` run, without the model.

    uv run python -m evaluation.threshold reports/eval/predictions-adapter.jsonl [more.jsonl ...] \
        [--keys status,tool_name]

Each prediction row carries the model's confidence at every branching choice it made. The served rule
(`ROUTER_CONFIDENCE_THRESHOLD`: `service.routing.below_threshold`, called here too) turns a decision
whose least confident choice is below the threshold into ask_human; this replays that rule on the rows
for a range of thresholds and counts what it would fix (gold ask_human) and what it would break
(decisions that were right). Rows the router had already overridden (destructive guard, an earlier
threshold) carry no confidence and are left as they are.
`--keys` replays a variant that looks only at some keys (the served rule looks at all of them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

from contract import validate_decision
from evaluation.metrics import label
from service.routing import below_threshold

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
ASK = "ask_human"


@dataclass(frozen=True)
class Replayed:
    threshold: float
    fired: int
    """Decisions the rule turns into ask_human."""
    fixed: int
    """Of those, the ones whose gold is ask_human (wrong before, right after)."""
    broken: int
    """Of those, the ones that were right before."""
    right: int
    """Right decisions (status and tool) after the rule."""


def load_rows(paths: list[Path]) -> list[tuple[str, str, dict[str, float]]]:
    """(gold label, predicted label, confidence) per prediction row."""
    rows = []
    for path in paths:
        for line in path.open():
            row = json.loads(line)
            predicted = validate_decision(row["predicted"]) if row["predicted"] else None
            gold = label(validate_decision(row["gold"]))
            rows.append((gold, label(predicted), row.get("confidence") or {}))
    return rows


def replay(rows: list[tuple[str, str, dict[str, float]]], threshold: float,
           keys: tuple[str, ...] | None = None) -> Replayed:
    fired = fixed = broken = right = 0
    for gold, predicted, confidence in rows:
        seen = {key: p for key, p in confidence.items() if keys is None or key in keys}
        if below_threshold(seen, threshold) and predicted != ASK:
            fired += 1
            fixed += gold == ASK
            broken += gold == predicted
            predicted = ASK
        right += gold == predicted
    return Replayed(threshold, fired, fixed, broken, right)


def table(rows: list[tuple[str, str, dict[str, float]]], keys: tuple[str, ...] | None = None) -> str:
    before = sum(gold == predicted for gold, predicted, _ in rows)
    looked_at = ", ".join(keys) if keys else "all"
    lines = [f"{len(rows)} decisions, {before} right without a threshold; keys: {looked_at}", "",
             "| threshold | turned into ask_human | fixed | broken | right decisions |", "|---:|---:|---:|---:|---:|"]
    for r in (replay(rows, t, keys) for t in THRESHOLDS):
        change = f"{r.right} ({r.right - before:+d})"
        lines.append(f"| {r.threshold} | {r.fired} | {r.fixed} | {r.broken} | {change} |")
    return "\n".join(lines)


def main(
    predictions: Annotated[list[Path], typer.Argument(help="predictions-<target>.jsonl files of `router eval`.")],
    keys: Annotated[Optional[str], typer.Option(help="Comma-separated branching keys [default: all].")] = None,
) -> None:
    print(table(load_rows(predictions), tuple(keys.split(",")) if keys else None))


if __name__ == "__main__":
    typer.run(main)
