"""Export a trained adapter: a merged 16-bit HF checkpoint (vLLM) and a LoRA GGUF (llama.cpp).

The LoRA GGUF holds, for every adapted weight `W` of the base, the pair `<gguf name>.lora_a` (r x in)
and `<gguf name>.lora_b` (out x r), plus `adapter.lora.alpha`; llama.cpp applies
`W x + (alpha / r) * B (A x)` over the quantized base, so the base GGUF is not touched.

One subtlety: llama.cpp's converter permutes the rows of Llama's q/k projections (its RoPE layout
differs from Hugging Face's), and transformers un-permutes them when it reads a GGUF. The rows of a
LoRA `B` for q/k must therefore get the same permutation; `A` (the input side) is unchanged.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from training.base_model import resolve_gguf

_LAYER = re.compile(r"(model\.layers\.\d+\.(?:self_attn|mlp)\.\w+)\.lora_([AB])\.weight$")


class ExportError(ValueError):
    """The adapter does not fit the base it is exported against; the message says which tensor."""


def llama_permute(rows: np.ndarray, n_head: int) -> np.ndarray:
    """HF -> GGUF row order of a q/k projection with `n_head` heads (rows = heads x head_dim)."""
    head_dim = rows.shape[0] // n_head
    return rows.reshape(n_head, 2, head_dim // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def _read_adapter(adapter_dir: Path) -> tuple[dict, dict[str, np.ndarray]]:
    from safetensors.numpy import load_file

    config_path, weights_path = adapter_dir / "adapter_config.json", adapter_dir / "adapter_model.safetensors"
    if not config_path.is_file() or not weights_path.is_file():
        raise ExportError(f"{adapter_dir} is not a peft adapter (needs adapter_config.json and adapter_model.safetensors)")
    return json.loads(config_path.read_text()), load_file(str(weights_path))


def lora_to_gguf(adapter_dir: str | Path, base_gguf: str | Path, out_path: str | Path, *, dtype: str = "f16") -> Path:
    """Write the peft adapter in `adapter_dir` as a LoRA GGUF for the Llama-architecture `base_gguf`."""
    import gguf

    adapter_dir, out_path = Path(adapter_dir), Path(out_path)
    config, weights = _read_adapter(adapter_dir)
    if config.get("use_rslora") or config.get("use_dora"):
        raise ExportError("rsLoRA/DoRA adapters are not supported by this exporter; train plain LoRA")
    reader = gguf.GGUFReader(str(base_gguf))
    arch = reader.fields["general.architecture"].contents()
    if arch != "llama":
        raise ExportError(f"base {base_gguf} has architecture {arch!r}; this exporter handles 'llama'")
    n_blocks = reader.fields["llama.block_count"].contents()
    n_head = reader.fields["llama.attention.head_count"].contents()
    n_head_kv = reader.fields["llama.attention.head_count_kv"].contents()
    base_shapes = {t.name: tuple(int(x) for x in t.shape) for t in reader.tensors}
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_blocks)
    np_dtype = {"f16": np.float16, "f32": np.float32}[dtype]

    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, value in weights.items():
        match = _LAYER.search(key)
        if not match:
            raise ExportError(f"adapter tensor {key!r} is not a Llama layer projection; cannot export it")
        pairs.setdefault(match.group(1), {})[match.group(2)] = value.astype(np.float32)

    writer = gguf.GGUFWriter(str(out_path), arch="llama")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(config["lora_alpha"]))
    writer.add_name(f"router LoRA r={config['r']}")
    for hf_name in sorted(pairs):
        a, b = pairs[hf_name].get("A"), pairs[hf_name].get("B")
        if a is None or b is None:
            raise ExportError(f"adapter has only one of lora_A/lora_B for {hf_name}")
        gguf_name = names.get_name(hf_name)
        if gguf_name is None:
            raise ExportError(f"no GGUF name for {hf_name}")
        base_shape = base_shapes.get(gguf_name + ".weight")  # GGUF order: (in, out)
        if base_shape != (a.shape[1], b.shape[0]):  # checked first: a foreign adapter may not even permute
            raise ExportError(f"{hf_name}: adapter maps {a.shape[1]}->{b.shape[0]} but base {gguf_name} is {base_shape}")
        if hf_name.endswith("q_proj"):
            b = llama_permute(b, n_head)
        elif hf_name.endswith("k_proj"):
            b = llama_permute(b, n_head_kv)
        writer.add_tensor(f"{gguf_name}.weight.lora_a", np.ascontiguousarray(a.astype(np_dtype)))
        writer.add_tensor(f"{gguf_name}.weight.lora_b", np.ascontiguousarray(b.astype(np_dtype)))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out_path


def merge_to_16bit(base_model: str, adapter_dir: str | Path, out_dir: str | Path, *, dtype: str = "bfloat16") -> Path:
    """Merge the adapter into the base and save a 16-bit HF checkpoint (what vLLM loads)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.base_model import hf_checkpoint

    source = hf_checkpoint(base_model)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    model = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    model = model.to(getattr(torch, dtype))
    # The base was dequantized from a GGUF: a leftover (even null) quantization_config makes loaders
    # such as vLLM look for a quantizer.
    for leftover in ("quantization_config", "_pre_quantization_dtype"):
        if hasattr(model.config, leftover):
            delattr(model.config, leftover)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir, safe_serialization=True)
    AutoTokenizer.from_pretrained(adapter_dir if (Path(adapter_dir) / "tokenizer_config.json").exists() else source).save_pretrained(out_dir)
    return out_dir


def export_all(base_model: str, adapter_dir: str | Path, out_dir: str | Path, *, merged: bool = True,
               gguf_dtype: str = "f16") -> dict[str, str]:
    """Every export of one adapter under `out_dir`: the LoRA GGUF, and (if asked) the merged checkpoint."""
    out_dir = Path(out_dir)
    written = {}
    base_gguf = resolve_gguf(base_model)
    if base_gguf is not None:
        written["lora_gguf"] = str(lora_to_gguf(adapter_dir, base_gguf, out_dir / "adapter.gguf", dtype=gguf_dtype))
    if merged:
        written["merged_16bit"] = str(merge_to_16bit(base_model, adapter_dir, out_dir / "merged-16bit"))
    return written
