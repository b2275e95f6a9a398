"""Loading an engine's own settings (ROUTER_VLLM_*, ROUTER_REMOTE_*), naming the variable of a bad value."""

from __future__ import annotations

import os
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

S = TypeVar("S", bound=BaseSettings)


def load_engine_settings(cls: type[S], prefix: str, **overrides: Any) -> S:
    """`cls(**overrides)` read from the environment; a bad value or unknown variable is a ValueError."""
    unknown = sorted(
        key
        for key in os.environ
        if key.startswith(prefix) and key[len(prefix) :].lower() not in cls.model_fields
    )
    if unknown:
        known = ", ".join(prefix + name.upper() for name in cls.model_fields)
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}: a typo? known: {known}")
    try:
        return cls(**overrides)
    except ValidationError as error:
        problems = [
            f"{prefix}{'.'.join(map(str, item['loc'])).upper() or 'SETTINGS'}: {item['msg']}"
            for item in error.errors()
        ]
        raise ValueError(f"invalid {prefix}* settings:\n  " + "\n  ".join(problems)) from None
