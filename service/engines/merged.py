"""The LoRA adapter merged into the base GGUF's weights, built once and reused: what the llamacpp engine loads.

llama.cpp applies a LoRA GGUF on every forward pass (two small matmuls per adapted weight): on 2 CPU cores
that is 8-20 % of a 48-token generation and a quarter of a route's time (docs/speed.md). Merged into the
base weights (W + alpha/r * B @ A, in numpy) and kept at f16, the adapter costs nothing per pass and
nothing of it is rounded away (median error 0.4 % of the delta; at Q8_0 it is 12 %, at the base's own
Q4_1 the delta is lost). The merged file (196 MB for the embedded SmolLM2) is written once into a cache
folder, named by a hash of both inputs, and reused by every later start.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MERGED_TYPE = "F16"
"""The merged weights' GGML type: f16 keeps the adapter's deltas (docs/speed.md)."""


def _fields(reader):
    """(key, value, type, sub_type) of every metadata field but the file's own GGUF.* header fields."""
    from gguf import GGUFValueType

    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        vtype = field.types[0]
        sub_type = field.types[-1] if vtype == GGUFValueType.ARRAY else None
        yield key, field.contents(), vtype, sub_type


def merge(base: Path, adapter: Path, out: Path, quant: str | None = MERGED_TYPE) -> dict:
    """Write `out`: `base` with `adapter`'s LoRA deltas added to the weights it adapts, each adapted weight
    quantized to `quant` (None: the base tensor's own type), every other tensor copied byte for byte. Returns
    what was done, with the median rounding error of the merged weights relative to their deltas."""
    from gguf import GGMLQuantizationType, GGUFReader, GGUFWriter
    from gguf.quants import dequantize, quantize

    started = time.perf_counter()
    lora = GGUFReader(adapter)
    scale = float(lora.fields["adapter.lora.alpha"].contents())
    a_of = {t.name.removesuffix(".lora_a"): t for t in lora.tensors if t.name.endswith(".lora_a")}
    b_of = {t.name.removesuffix(".lora_b"): t for t in lora.tensors if t.name.endswith(".lora_b")}
    reader = GGUFReader(base)
    writer = GGUFWriter(out, arch=str(reader.fields["general.architecture"].contents()))
    for key, value, vtype, sub_type in _fields(reader):
        if key != "general.architecture":  # GGUFWriter writes it from `arch`
            writer.add_key_value(key, value, vtype, sub_type)
    error = []  # per merged weight: how far the rounding left it from base + delta, relative to the delta
    for tensor in reader.tensors:
        if tensor.name not in a_of:
            writer.add_tensor(tensor.name, tensor.data, raw_shape=tensor.data.shape, raw_dtype=tensor.tensor_type)
            continue
        a = np.asarray(a_of[tensor.name].data, dtype=np.float32)  # (r, in)
        b = np.asarray(b_of[tensor.name].data, dtype=np.float32)  # (out, r)
        weight = dequantize(tensor.data, tensor.tensor_type).reshape(b.shape[0], a.shape[1])
        delta = (scale / a.shape[0]) * (b @ a)
        target = GGMLQuantizationType[quant] if quant else tensor.tensor_type
        data = quantize(weight + delta, target)
        kept = dequantize(data, target).reshape(weight.shape) - weight
        error.append(float(np.linalg.norm(kept - delta) / max(np.linalg.norm(delta), 1e-12)))
        writer.add_tensor(tensor.name, data, raw_shape=data.shape, raw_dtype=target)
    if len(error) != len(a_of):
        raise ValueError(f"{len(a_of) - len(error)} tensors of {adapter} have no base tensor of that name in {base}")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {"out": str(out), "merged_tensors": len(error), "quant": quant or "as the base",
            "delta_error_median": round(float(np.median(error)), 3),
            "megabytes": round(out.stat().st_size / 1e6, 1), "seconds": round(time.perf_counter() - started, 1)}


def _digest(*paths: Path) -> str:
    sha = hashlib.sha256(MERGED_TYPE.encode())
    for path in paths:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                sha.update(chunk)
    return sha.hexdigest()[:16]


def merged_model(base: Path, adapter: Path, folder: Path) -> Path:
    """The merged GGUF of `base` and `adapter` in `folder`, written there first if it is not yet: named by
    a hash of both files, so a new adapter gets a new file; written to a temporary name and renamed, so a
    crash or a second process starting at the same time never leaves a half-written file under that name."""
    path = folder / f"merged-{_digest(base, adapter)}.gguf"
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=folder, prefix=path.name, suffix=".partial")
    os.close(fd)
    try:
        done = merge(base, adapter, Path(partial))
        os.replace(partial, path)
    finally:
        Path(partial).unlink(missing_ok=True)
    log.info("merged %s into %s at %s in %.1fs: %s (%.0f MB)", adapter, base, MERGED_TYPE, done["seconds"], path,
             done["megabytes"])
    return path
