"""`router train cpu | gpu | export`: train the router adapter and export it (heavy imports inside)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from training.config import ConfigError, TrainConfig

app = typer.Typer(no_args_is_help=True, help="Fine-tune the router adapter (CPU: peft; GPU: Unsloth) and export it.")

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="JSON file of TrainConfig fields.")]
SetOpt = Annotated[
    Optional[list[str]], typer.Option("--set", "-s", help="Override one field: name=value (value parsed as JSON if it can be).")
]


def parse_overrides(pairs: list[str] | None) -> dict:
    overrides = {}
    for pair in pairs or []:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise ConfigError(f"--set {pair!r}: expected name=value, e.g. --set max_steps=100")
        try:
            overrides[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            overrides[name.strip()] = raw
    return overrides


def build_config(config: Path | None, overrides: list[str] | None) -> TrainConfig:
    base = TrainConfig.load(config).to_dict() if config else {}
    return TrainConfig.from_dict(base | parse_overrides(overrides))


def _config_or_exit(config: Path | None, overrides: list[str] | None) -> TrainConfig:
    try:
        return build_config(config, overrides)
    except (ConfigError, TypeError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


@app.command()
def cpu(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    resume: Annotated[bool, typer.Option(help="Continue from the newest checkpoint in output_dir.")] = True,
    export: Annotated[bool, typer.Option(help="Write the LoRA GGUF next to the adapter when done.")] = True,
) -> None:
    """Train a LoRA adapter on the CPU (the embedded SmolLM2 default); resumable."""
    from training.cpu import TrainingInterrupted, train_cpu
    from training.formatting import DataError

    cfg = _config_or_exit(config, set_)
    try:
        result = train_cpu(cfg, resume=resume, on_step=lambda r: typer.echo(json.dumps(r)))
    except TrainingInterrupted as stop:
        typer.echo(str(stop), err=True)
        raise typer.Exit(130) from None
    except (DataError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"adapter: {result.adapter_dir} ({result.steps} steps, {result.seconds:.0f}s, loss {result.final_loss:.4f})")
    if export:
        from training.export import export_all

        typer.echo(json.dumps(export_all(cfg.base_model, result.adapter_dir, result.output_dir, merged=False)))


@app.command()
def gpu(config: ConfigOpt = None, set_: SetOpt = None) -> None:
    """Train with Unsloth QLoRA on an NVIDIA GPU (e.g. Llama-3.1-8B-Instruct); needs the `gpu` extra."""
    from training.gpu import GpuUnavailable, train_gpu

    cfg = _config_or_exit(config, set_)
    try:
        out = train_gpu(cfg)
    except GpuUnavailable as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"adapter: {out}")


@app.command()
def prior(
    data: Annotated[Path, typer.Option(help="Training split (JSONL of TrainingExample rows).")] = Path(
        "data/router/train.jsonl"),
    out: Annotated[Path, typer.Option(help="Where to write the prior (.npz).")] = Path(
        "models/router-smollm2/prior.npz"),
    also: Annotated[Optional[list[Path]], typer.Option(help="More JSONL files of TrainingExample rows that only "
                                                       "the prior learns from (repeatable).")] = None,
    also_weight: Annotated[float, typer.Option(min=0.0, help="How many times each --also row counts in the "
                                                             "loss beside a training-split row.")] = 1.0,
    l2: Annotated[float, typer.Option(help="L2 penalty on the classifier's weights.")] = 1e-3,
) -> None:
    """Fit the decision prior (a MiniLM classifier of the request) that the router multiplies into the
    adapter's status and tool choices; a few minutes on 2 cores. Needs the `search` and `train` extras."""
    from training.formatting import DataError
    from training.prior import train_prior

    try:
        typer.echo(json.dumps(train_prior(data, out, also=also or (), also_weight=also_weight, l2=l2)))
    except DataError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


@app.command("export")
def export_cmd(
    adapter: Annotated[Path, typer.Argument(help="A peft adapter directory (adapter_config.json + safetensors).")],
    out: Annotated[Path, typer.Option(help="Where to write adapter.gguf and merged-16bit/.")],
    base_model: Annotated[str, typer.Option(help="The base the adapter was trained on.")] = "embedded:smollm2-135m",
    merged: Annotated[bool, typer.Option(help="Also write a merged 16-bit HF checkpoint (for vLLM).")] = True,
    gguf_dtype: Annotated[str, typer.Option(help="f16 or f32 for the LoRA GGUF.")] = "f16",
) -> None:
    """Export an adapter: LoRA GGUF for llama.cpp and a merged 16-bit checkpoint for vLLM."""
    from training.base_model import BaseModelError
    from training.export import ExportError, export_all

    if gguf_dtype not in ("f16", "f32"):
        typer.echo(f"error: --gguf-dtype {gguf_dtype!r}: choose f16 or f32", err=True)
        raise typer.Exit(2)
    try:
        typer.echo(json.dumps(export_all(base_model, adapter, out, merged=merged, gguf_dtype=gguf_dtype), indent=2))
    except (ExportError, BaseModelError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
