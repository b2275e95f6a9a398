"""Engines behind one interface; which one serves is configuration (`ROUTER_ENGINE`), not code."""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.engines.base import DeadlineExceeded, Engine, EngineError, Generation, GenerationRequest

if TYPE_CHECKING:
    from service.settings import Settings

DEFAULT_ENGINE = "llamacpp"

__all__ = [
    "DEFAULT_ENGINE",
    "DeadlineExceeded",
    "Engine", "EngineError", "Generation", "GenerationRequest", "create_engine"]


def create_engine(settings: Settings) -> Engine:
    """Build the configured engine. Heavy libraries are imported here, not at module import."""
    if settings.engine == "llamacpp":
        from service.engines.llamacpp import LlamaCppEngine

        return LlamaCppEngine(
            settings.model_path,
            adapter_path=settings.adapter_path,
            n_threads=settings.threads,
            n_ctx=settings.context_tokens,
            parallel=settings.parallel,
            fast_forward=settings.fast_forward,
            cpu_repack=settings.cpu_repack,
            merged_dir=settings.merged_dir if settings.merge_adapter else None,
        )
    if settings.engine == "vllm":
        from service.engines.vllm import VLLMEngine, load_vllm_settings

        return VLLMEngine(load_vllm_settings())
    if settings.engine == "remote":
        from service.engines.remote import RemoteEngine, load_remote_settings

        return RemoteEngine(load_remote_settings())
    raise ValueError(f"unknown engine {settings.engine!r}; choose one of: llamacpp, vllm, remote")
