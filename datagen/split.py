"""Stratified train/test split by intent, and formatting into chat-template training rows."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from contract import build_messages, render_prompt, validate_decision
from contract.decision import dump_decision


def intent_of(output: dict[str, Any]) -> str:
    from datagen.compose import intent_of as _intent_of

    return _intent_of(output)


def _indices_by_intent(rows: list[dict[str, Any]]) -> list[list[int]]:
    """The rows' indices grouped by intent, intents in name order (a fixed order for the seeded draws)."""
    by_intent: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_intent[intent_of(row["output"])].append(i)
    return [by_intent[intent] for intent in sorted(by_intent)]


def stratified_split(rows: list[dict[str, Any]], test_fraction: float = 0.1, seed: int = 0
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split each intent separately, so train and test have the same intent mix (± one row)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    rng = random.Random(seed)
    train: list[dict[str, Any]] = []
    test: list[dict[str, Any]] = []
    for indices in _indices_by_intent(rows):
        group = [rows[i] for i in indices]
        rng.shuffle(group)
        n_test = round(len(group) * test_fraction)
        test += group[:n_test]
        train += group[n_test:]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def thin_by_intent(rows: list[dict[str, Any]], keep: int, seed: int = 0) -> list[dict[str, Any]]:
    """About `keep` of `rows` (each intent in its share, rounded), in their original order.

    Used to trade composed rows for curated ones in a fixed training budget without touching the test split.
    """
    if not 0 < keep <= len(rows):
        raise ValueError(f"keep must be between 1 and {len(rows)}, got {keep}")
    rng = random.Random(seed)
    kept: list[int] = []
    for group in _indices_by_intent(rows):
        kept += rng.sample(group, round(len(group) * keep / len(rows)))
    return [rows[i] for i in sorted(kept)]


def chat_row(row: dict[str, Any], chat_template: str | None = None, *, bos_token: str = "",
             eos_token: str = "") -> dict[str, Any]:
    """One SFT row: the exact serving messages plus the target, and the rendered prompt when a template is given.

    The completion is the compact JSON `dump_decision` writes, the exact bytes the model must emit.
    """
    completion = dump_decision(validate_decision(row["output"]))
    messages = build_messages(row["user_query"])
    out: dict[str, Any] = {"messages": messages + [{"role": "assistant", "content": completion}],
                           "completion": completion}
    if chat_template is not None:
        out["prompt"] = render_prompt(messages, chat_template, bos_token=bos_token, eos_token=eos_token)
    return out
