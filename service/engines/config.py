"""Loading an engine's own settings (ROUTER_VLLM_*, ROUTER_REMOTE_*), naming the variable of a bad value."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

S = TypeVar("S", bound=BaseSettings)


def load_engine_settings(cls: type[S], prefix: str, **overrides: Any) -> S:
    """`cls(**overrides)` read from the environment; a bad value is a ValueError naming its variable."""
    try:
        return cls(**overrides)
    except ValidationError as error:
        problems = [
            f"{prefix}{'.'.join(map(str, item['loc'])).upper() or 'SETTINGS'}: {item['msg']}"
            for item in error.errors()
        ]
        raise ValueError(f"invalid {prefix}* settings:\n  " + "\n  ".join(problems)) from None
