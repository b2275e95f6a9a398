"""The CPU trainer: LoRA (peft) over the base with a plain torch loop, checkpointed and resumable.

A plain loop rather than a framework trainer keeps every step's state in view: the batch order is a
pure function of (seed, epoch), so a resumed run replays exactly the batches the interrupted one had
left, and with dropout 0 it ends with the same weights as an uninterrupted run.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from training.base_model import chat_format, hf_checkpoint
from training.config import TrainConfig
from training.formatting import IGNORE_INDEX, Encoded, encode_all, load_examples

STATE_FILE = "trainer_state.pt"


class TrainingInterrupted(RuntimeError):
    """Raised after a checkpoint was written because the run was asked to stop."""


@dataclass
class TrainResult:
    output_dir: Path
    adapter_dir: Path
    steps: int
    examples: int
    dropped: int
    final_loss: float
    seconds: float
    resumed_from: int


def batch_order(n: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Shuffled batches for one epoch, grouped by length within windows (less padding on CPU)."""
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(n))
    rng.shuffle(order)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def length_grouped(batches: list[list[int]], lengths: list[int], seed: int, epoch: int, window: int = 16) -> list[list[int]]:
    """Re-cut each window of batches so similar lengths share a batch, then shuffle the batch order."""
    out = []
    for w in range(0, len(batches), window):
        idx = sorted((i for b in batches[w : w + window] for i in b), key=lambda i: lengths[i])
        size = len(batches[w])
        out.extend(idx[i : i + size] for i in range(0, len(idx), size))
    random.Random(seed * 7_919 + epoch).shuffle(out)
    return out


def schedule(step: int, total: int, warmup: int, time_progress: float = 0.0) -> float:
    """LR multiplier: linear warm-up, then linear decay to 10 % over steps or time, whichever is further."""
    if step < warmup:
        return (step + 1) / warmup
    progress = max((step - warmup) / max(1, total - warmup), time_progress)
    return max(0.1, 1.0 - 0.9 * progress)


def collate(items: list[Encoded], pad_id: int):
    import torch

    width = max(len(e.input_ids) for e in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for row, e in enumerate(items):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return ids, labels, mask


def completion_loss(model, ids, mask, labels):
    """Mean next-token cross-entropy over completion tokens, projecting only those onto the vocabulary.

    Same value as the model's own loss with `labels`, without the (batch x length x 49k) logits of
    the prompt positions: the LM head is a fifth of this model's compute.
    """
    import torch

    base = model.get_base_model()
    hidden = base.model(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1]
    targets = labels[:, 1:]
    keep = targets != IGNORE_INDEX
    logits = base.lm_head(hidden[keep])
    return torch.nn.functional.cross_entropy(logits.float(), targets[keep])


def load_base(config: TrainConfig):
    """(model, tokenizer, chat format) for the config's base, fp32 weights on the CPU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = hf_checkpoint(config.base_model)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    return model, tokenizer, chat_format(config.base_model, tokenizer)


def _checkpoints(output_dir: Path) -> list[Path]:
    return sorted((output_dir / "checkpoints").glob("step-*"), key=lambda p: int(p.name.split("-")[1]))


def latest_checkpoint(output_dir: Path) -> Path | None:
    complete = [c for c in _checkpoints(output_dir) if (c / STATE_FILE).is_file()]
    return complete[-1] if complete else None


def train_cpu(
    config: TrainConfig,
    *,
    resume: bool = True,
    stop_after: int | None = None,
    on_step: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train a LoRA adapter; resumes from the newest checkpoint in `output_dir` when `resume`.

    `stop_after` simulates an interruption: checkpoint at that step and raise TrainingInterrupted.
    """
    import torch
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from peft.utils import get_peft_model_state_dict

    started = time.monotonic()
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)

    examples = load_examples(config.train_file)
    random.Random(config.seed).shuffle(examples)
    if config.max_train_examples:
        examples = examples[: config.max_train_examples]
    model, tokenizer, fmt = load_base(config)
    encoded, dropped = encode_all(tokenizer, fmt, examples, config.max_length)
    if not encoded:
        raise ValueError(f"every example is longer than max_length={config.max_length}; raise it")
    lengths = [len(e.input_ids) for e in encoded]
    steps_per_epoch = math.ceil(len(encoded) / config.batch_size)
    total = math.ceil(steps_per_epoch * config.epochs)
    if config.max_steps:
        total = min(total, config.max_steps)

    n_layers = model.config.num_hidden_layers
    if config.lora_first_layer >= n_layers:
        raise ValueError(f"lora_first_layer={config.lora_first_layer} but the base has {n_layers} blocks")
    lora = LoraConfig(
        r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules), task_type="CAUSAL_LM", bias="none",
        layers_to_transform=list(range(config.lora_first_layer, n_layers)) if config.lora_first_layer else None,
    )
    model = get_peft_model(model, lora)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    budget_s = config.time_budget_minutes * 60 if config.time_budget_minutes else None

    step, resumed_from, prior_seconds = 0, 0, 0.0
    log_path = out / "train_log.jsonl"
    checkpoint = latest_checkpoint(out) if resume else None
    if checkpoint is not None:
        state = torch.load(checkpoint / STATE_FILE, weights_only=False)
        # A run may move, or get more (or less) time; anything else changed means another experiment.
        same = {"output_dir": state["config"]["output_dir"], "time_budget_minutes": state["config"].get("time_budget_minutes")}
        if state["config"] != config.to_dict() | same:
            raise ValueError(f"{checkpoint} was written with a different config; use a new output_dir or --no-resume")
        set_peft_model_state_dict(model, state["adapter"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        step = resumed_from = state["step"]
        prior_seconds = state.get("seconds", 0.0)
    elif not resume or not _checkpoints(out):
        log_path.write_text("")
    config.save(out / "config.json")

    def save_checkpoint() -> None:
        target = out / "checkpoints" / f"step-{step:06d}"
        target.mkdir(parents=True, exist_ok=True)
        torch.save({
            "step": step, "config": config.to_dict(), "adapter": get_peft_model_state_dict(model),
            "optimizer": optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "seconds": prior_seconds + time.monotonic() - started,
        }, target / (STATE_FILE + ".tmp"))
        (target / (STATE_FILE + ".tmp")).rename(target / STATE_FILE)
        for old in _checkpoints(out)[: -config.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)

    stop_requested = []
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for s in previous:
        try:
            signal.signal(s, lambda *_: stop_requested.append(True))
        except ValueError:  # not the main thread: no signal handling, checkpoints still every N steps
            previous = {}
            break

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    model.train()
    loss_value = float("nan")
    try:
        while step < total:
            elapsed = prior_seconds + time.monotonic() - started
            if budget_s is not None and elapsed >= budget_s:
                break  # out of time: the LR has already decayed with elapsed time
            lr = config.learning_rate * schedule(step, total, config.warmup_steps, elapsed / budget_s if budget_s else 0.0)
            for group in optimizer.param_groups:
                group["lr"] = lr
            epoch, index = divmod(step, steps_per_epoch)
            batch = length_grouped(batch_order(len(encoded), config.batch_size, config.seed, epoch),
                                   lengths, config.seed, epoch)[index]
            ids, labels, mask = collate([encoded[i] for i in batch], pad_id)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.precision == "bf16"):
                loss = completion_loss(model, ids, mask, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            loss_value = float(loss.detach())
            record = {"step": step, "epoch": round(step / steps_per_epoch, 4), "loss": round(loss_value, 5),
                      "lr": lr, "tokens": int(mask.sum()),
                      "elapsed_s": round(prior_seconds + time.monotonic() - started, 2)}
            if step % config.log_every == 0 or step == total:
                with log_path.open("a") as f:
                    f.write(json.dumps(record) + "\n")
            if on_step:
                on_step(record)
            interrupted = bool(stop_requested) or step == stop_after
            if step % config.save_every == 0 or interrupted:
                save_checkpoint()
            if interrupted:
                raise TrainingInterrupted(f"stopped at step {step}; a checkpoint is in {out / 'checkpoints'}")
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)

    if step % config.save_every:
        save_checkpoint()  # the last steps too, so a run cut by its time budget can be given more time
    adapter_dir = out / "adapter"
    model.save_pretrained(adapter_dir)
    tokenizer.save_pretrained(adapter_dir)
    (adapter_dir / "chat_format.json").write_text(json.dumps(fmt.to_dict(), indent=2))
    result = TrainResult(out, adapter_dir, step, len(encoded), dropped, loss_value,
                         prior_seconds + time.monotonic() - started, resumed_from)
    summary = {k: str(v) if isinstance(v, Path) else v for k, v in result.__dict__.items()}
    summary |= {"config": config.to_dict(), "steps_per_epoch": steps_per_epoch,
                "mean_tokens": sum(lengths) / len(lengths)}
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return result
