"""JSON schemas of the decision: one documented, one cleaned for grammar-constrained decoders.

The schema of a running decision depends on the reasoning mode: with reasoning on, `thought` is
required; with it off, `thought` is not in the schema at all, so the decoder cannot emit it.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from contract.decision import DECISION_ADAPTER

_NOISE_KEYS = ("title", "default", "description", "discriminator")


@cache
def _base_schema() -> dict[str, Any]:
    return DECISION_ADAPTER.json_schema(mode="validation")


def decision_json_schema(*, reasoning: bool = True) -> dict[str, Any]:
    """The decision's JSON schema (a fresh copy; safe to mutate)."""
    schema = copy.deepcopy(_base_schema())
    running = schema["$defs"]["RunningDecision"]
    if reasoning:
        running["required"] = ["status", "thought", "tool_use"]
    else:
        del running["properties"]["thought"]
    return schema


def _strip_noise(node: Any) -> Any:
    if isinstance(node, dict):
        cleaned = {}
        for key, value in node.items():
            # A noise key's value is a string or scalar; a dict under such a name is a property's schema.
            if key == "discriminator" or (key in _NOISE_KEYS and not isinstance(value, dict)):
                continue
            cleaned["anyOf" if key == "oneOf" else key] = _strip_noise(value)
        return cleaned
    if isinstance(node, list):
        return [_strip_noise(item) for item in node]
    return node


def grammar_json_schema(*, reasoning: bool = True) -> dict[str, Any]:
    """The schema handed to a decoder: no titles, defaults or descriptions; `oneOf` as `anyOf`.

    The branches of every union are disjoint by their `const` discriminator, so `anyOf` accepts
    exactly what `oneOf` does, and every backend (llguidance, xgrammar, outlines) supports it.
    """
    return _strip_noise(decision_json_schema(reasoning=reasoning))
