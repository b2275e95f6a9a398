"""The GPU trainer: Unsloth QLoRA (4-bit base, LoRA on every linear layer, loss on the response only).

Same config and same formatting as the CPU trainer: rows are tokenized here with `encode_example`
(the serving prompt, byte for byte) and handed to TRL pre-tokenized with a `completion_mask`, so the
trainer never re-renders a chat template of its own. Needs the `gpu` extra and an NVIDIA GPU.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.config import EMBEDDED_BASE, TrainConfig
from training.formatting import IGNORE_INDEX, encode_all, load_examples

DEFAULT_GPU_BASE = "unsloth/Meta-Llama-3.1-8B-Instruct"


class GpuUnavailable(RuntimeError):
    """No CUDA device, or the `gpu` extra (unsloth) is not installed."""


@dataclass
class UnslothPlan:
    """The keyword arguments of each Unsloth/TRL call, computed from the config alone (testable here)."""

    model_kwargs: dict[str, Any]
    peft_kwargs: dict[str, Any]
    sft_kwargs: dict[str, Any]


def unsloth_plan(config: TrainConfig) -> UnslothPlan:
    base = DEFAULT_GPU_BASE if config.base_model == EMBEDDED_BASE else config.base_model
    if base.endswith(".gguf"):
        raise GpuUnavailable(f"base_model {base!r}: Unsloth loads HF checkpoints, not GGUF files")
    out = Path(config.output_dir)
    return UnslothPlan(
        model_kwargs={"model_name": base, "max_seq_length": config.max_length, "load_in_4bit": config.load_in_4bit,
                      "dtype": None},
        peft_kwargs={"r": config.lora_r, "lora_alpha": config.lora_alpha, "lora_dropout": config.lora_dropout,
                     "target_modules": list(config.target_modules), "bias": "none",
                     "use_gradient_checkpointing": "unsloth", "random_state": config.seed},
        sft_kwargs={
            "output_dir": str(out / "checkpoints"),
            "per_device_train_batch_size": config.batch_size,
            "gradient_accumulation_steps": config.gradient_accumulation_steps,
            "learning_rate": config.learning_rate,
            "num_train_epochs": config.epochs,
            "max_steps": config.max_steps or -1,
            "warmup_steps": config.warmup_steps,
            "weight_decay": config.weight_decay,
            "lr_scheduler_type": "linear",
            "logging_steps": config.log_every,
            "save_steps": config.save_every,
            "save_total_limit": config.keep_checkpoints,
            "seed": config.seed,
            "bf16": True,
            "optim": "adamw_8bit",
            "max_length": config.max_length,
            "completion_only_loss": True,
            "report_to": "none",
        },
    )


def tokenized_rows(config: TrainConfig, tokenizer, fmt) -> list[dict[str, list[int]]]:
    """Pre-tokenized rows for TRL: `input_ids` and `completion_mask` (1 on the response only)."""
    examples = load_examples(config.train_file)
    random.Random(config.seed).shuffle(examples)
    if config.max_train_examples:
        examples = examples[: config.max_train_examples]
    encoded, _ = encode_all(tokenizer, fmt, examples, config.max_length)
    return [{"input_ids": e.input_ids, "completion_mask": [int(x != IGNORE_INDEX) for x in e.labels]} for e in encoded]


def train_gpu(config: TrainConfig) -> Path:
    """Train with Unsloth; resumes from the newest TRL checkpoint in output_dir. Returns the adapter dir."""
    try:
        import torch
        from unsloth import FastLanguageModel  # must be imported before trl/transformers
    except ImportError as error:
        raise GpuUnavailable(f"the GPU trainer needs the `gpu` extra (uv sync --extra gpu): {error}") from None
    if not torch.cuda.is_available():
        raise GpuUnavailable("no CUDA device: the GPU trainer needs an NVIDIA GPU; use `router train cpu`")
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from training.base_model import chat_format

    plan = unsloth_plan(config)
    model, tokenizer = FastLanguageModel.from_pretrained(**plan.model_kwargs)
    model = FastLanguageModel.get_peft_model(model, **plan.peft_kwargs)
    fmt = chat_format(plan.model_kwargs["model_name"], tokenizer)
    rows = tokenized_rows(config, tokenizer, fmt)
    trainer = SFTTrainer(model=model, processing_class=tokenizer, train_dataset=Dataset.from_list(rows),
                         args=SFTConfig(**plan.sft_kwargs))
    checkpoints = list(Path(plan.sft_kwargs["output_dir"]).glob("checkpoint-*"))
    trainer.train(resume_from_checkpoint=bool(checkpoints))
    out = Path(config.output_dir)
    model.save_pretrained(str(out / "adapter"))
    tokenizer.save_pretrained(str(out / "adapter"))
    model.save_pretrained_merged(str(out / "merged-16bit"), tokenizer, save_method="merged_16bit")
    config.save(out / "config.json")
    return out / "adapter"
