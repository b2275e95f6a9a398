"""Load a `llama_cpp.Llama` with llama.cpp's extra CPU buffer types off unless asked for.

llama.cpp can repack weights into "extra buffer types" for special CPU kernels. On Intel CPUs with AMX
(Sapphire Rapids and newer) that is the AMX matmul, used for every batch of more than one token. In
virtual machines that advertise AMX without keeping the tile state across context switches, its first
`tilezero` dies with SIGILL, killing the process on the first prompt (seen on this project's 2-core CI
machines: an Intel Xeon VM whose kernel grants AMX permission). Off, the weights stay in the GGUF's own
layout and the ordinary AVX/AVX-512 kernels run: this is what every AMD and pre-AMX Intel host runs
anyway, since llama.cpp has no repacked layout for the Q4_1 weights the embedded model ships.

llama-cpp-python 0.3.36 does not expose `llama_model_params.use_extra_bufts`, so the default model
parameters it asks for are patched for the duration of one load, under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

_LOAD_LOCK = threading.Lock()


@contextmanager
def extra_cpu_buffers_off() -> Iterator[None]:
    """While inside, models that llama-cpp-python loads use no extra CPU buffer types."""
    import llama_cpp.llama_cpp as low_level

    with _LOAD_LOCK:
        default_params = low_level.llama_model_default_params

        def params_without_extra_buffers():
            params = default_params()
            params.use_extra_bufts = False
            return params

        low_level.llama_model_default_params = params_without_extra_buffers
        try:
            yield
        finally:
            low_level.llama_model_default_params = default_params


def load_llama(model_path: str | Path, *, cpu_repack: bool = False, **kwargs: Any):
    """`llama_cpp.Llama(model_path, **kwargs)`; `cpu_repack=True` lets llama.cpp use AMX and other repacks."""
    import llama_cpp

    with nullcontext() if cpu_repack else extra_cpu_buffers_off():
        return llama_cpp.Llama(model_path=str(model_path), **kwargs)
