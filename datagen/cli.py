"""`router datagen compose | generate | validate | split | publish | stats`.

Each stage reads files and writes files, so any stage can be re-run alone. Heavy imports (litellm,
instructor, huggingface_hub) happen inside the commands that need them.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(no_args_is_help=True, help="The data factory: compose, generate, validate, split, publish, stats.")

DEFAULT_OUT = Path("data/router")
REPRODUCE = "uv run router datagen compose --rows {rows} --seed {seed} --test-fraction {tf}{thoughts}{thin}{curated} --out {out}"


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _load(path: Path) -> list[dict]:
    from datagen.jsonl import read_rows

    if not path.exists():
        _fail(f"{path} does not exist")
    try:
        return read_rows(path)
    except ValueError as e:
        _fail(str(e))
    return []


@app.command()
def compose(
    rows: Annotated[int, typer.Option(help="Rows in the finished dataset (train + test).", min=10)] = 6000,
    seed: Annotated[int, typer.Option(help="Everything is a pure function of this seed.")] = 7,
    out: Annotated[Path, typer.Option(help="Directory for train.jsonl, test.jsonl, README.md, stats.json.")] = DEFAULT_OUT,
    test_fraction: Annotated[float, typer.Option(help="Share of each intent held out for test.", min=0.01, max=0.5)] = 0.1,
    raw: Annotated[Optional[Path], typer.Option(help="Also write every row with its metadata here (JSONL).")] = None,
    progress: Annotated[bool, typer.Option(help="Progress bars.")] = True,
    short_thoughts: Annotated[bool, typer.Option(help="Keep only each thought's reason clause (fewer tokens per decision).")] = False,
    curated: Annotated[Optional[Path], typer.Option(help="A folder of hand-written *.jsonl rows to add to the training "
                                                         "split (validated; a bad row is an error).")] = None,
    composed_train: Annotated[Optional[int], typer.Option(help="Keep only this many composed rows in the training split "
                                                               "(each intent in its share); the test split is unchanged.",
                                                          min=1)] = None,
) -> None:
    """Compose the offline dataset: draft, run sandbox programs, validate, dedup, split, write the card."""
    from datagen.compose import compose as run_compose
    from datagen.curated import CuratedRowError, load_curated
    from datagen.jsonl import write_rows
    from datagen.split import stratified_split, thin_by_intent
    from datagen.stats import dataset_stats, render_card

    composed, report = run_compose(rows, seed=seed, progress=progress, short_thoughts=short_thoughts)
    clean = [{"user_query": r["user_query"], "output": r["output"]} for r in composed]
    train, test = stratified_split(clean, test_fraction=test_fraction, seed=seed)
    if composed_train is not None:
        if composed_train > len(train):
            _fail(f"--composed-train {composed_train} is more than the {len(train)} composed training rows")
        train = thin_by_intent(train, composed_train, seed=seed)
    curated_summary = None
    if curated is not None:
        try:
            extra, creport = load_curated(curated, composed_queries=[r["user_query"] for r in clean])
        except CuratedRowError as e:
            _fail(str(e))
        train = train + extra
        random.Random(seed).shuffle(train)
        curated_summary = {"folder": str(curated), "files": creport.files, "kept": len(extra),
                           "duplicates": creport.duplicates, "intents": dict(creport.intents.most_common())}
    out.mkdir(parents=True, exist_ok=True)
    write_rows(out / "train.jsonl", train)
    write_rows(out / "test.jsonl", test)
    if raw:
        write_rows(raw, composed)
    stats = dataset_stats(clean, [r["meta"] for r in composed])
    rejections = {"drafted": report.drafted, "sandbox_failed": report.sandbox_failed,
                  "validation": report.validation.as_dict()}
    dedup = {"exact": report.dedup.exact_duplicates, "near": report.dedup.near_duplicates}
    command = REPRODUCE.format(rows=rows, seed=seed, tf=test_fraction, out=out,
                               thoughts=" --short-thoughts" if short_thoughts else "",
                               thin=f" --composed-train {composed_train}" if composed_train is not None else "",
                               curated=f" --curated {curated}" if curated is not None else "")
    (out / "README.md").write_text(render_card(stats, train=len(train), test=len(test), command=command,
                                               rejections=rejections, dedup=dedup, curated=curated_summary))
    (out / "stats.json").write_text(json.dumps({**stats, "rejections": rejections, "dedup": dedup,
                                                "curated": curated_summary, "train": len(train), "test": len(test)},
                                               indent=1) + "\n")
    typer.echo(f"wrote {len(train)} train + {len(test)} test rows to {out}")
    if curated_summary:
        typer.echo(f"curated: {curated_summary['kept']} rows added to train, {curated_summary['duplicates']} duplicates dropped")
    typer.echo("intent mix: " + ", ".join(f"{k} {v * 100:.1f}%" for k, v in stats["intent_mix"].items()))


@app.command()
def generate(
    model: Annotated[list[str], typer.Option(help="litellm model name; repeat for a model roulette, e.g. "
                                                   "openai/gpt-4o-mini or openai/<name> on a local server.")],
    out: Annotated[Path, typer.Option(help="JSONL to append to (resumed if it exists).")] = Path("runs/datagen/generated.jsonl"),
    base_url: Annotated[Optional[str], typer.Option(help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1.")] = None,
    api_key_env: Annotated[Optional[str], typer.Option(help="Name of the environment variable holding the API key "
                                                            "(keys are never taken on the command line).")] = None,
    rows: Annotated[int, typer.Option(min=1)] = 100,
    batch_size: Annotated[int, typer.Option(min=1, max=50)] = 5,
    concurrency: Annotated[int, typer.Option(min=1, max=64)] = 4,
    rpm: Annotated[float, typer.Option(help="Requests per minute across all models.", min=0.1)] = 60.0,
    max_attempts: Annotated[int, typer.Option(min=1)] = 4,
    validation_retries: Annotated[int, typer.Option(min=0)] = 1,
    max_tokens: Annotated[int, typer.Option(min=16)] = 2048,
    temperature: Annotated[float, typer.Option(min=0.0, max=2.0)] = 0.9,
    timeout: Annotated[float, typer.Option(help="Seconds per request.", min=1)] = 120.0,
    seed: Annotated[int, typer.Option()] = 0,
    price: Annotated[Optional[list[str]], typer.Option(help="MODEL=IN,OUT: USD per million prompt/completion tokens.")] = None,
    execute: Annotated[bool, typer.Option(help="Run sandbox programs before accepting a row.")] = True,
    report: Annotated[Optional[Path], typer.Option(help="Write usage, cost and rejections (JSON) here.")] = None,
    progress: Annotated[bool, typer.Option()] = True,
) -> None:
    """Generate rows with LLMs (instructor + litellm); safe to interrupt and re-run: it resumes."""
    import os

    from datagen.generate import GeneratorConfig, generate as run_generate

    prices: dict[str, tuple[float, float]] = {}
    for spec in price or []:
        try:
            name, values = spec.split("=", 1)
            pin, pout = (float(x) for x in values.split(","))
        except ValueError:
            _fail(f"--price {spec!r}: expected MODEL=IN,OUT, e.g. openai/gpt-4o-mini=0.15,0.6")
        prices[name] = (pin, pout)
    api_key = None
    if api_key_env:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            _fail(f"environment variable {api_key_env} is not set")
    cfg = GeneratorConfig(models=model, base_url=base_url, api_key=api_key, rows=rows, batch_size=batch_size,
                          concurrency=concurrency, requests_per_minute=rpm, max_attempts=max_attempts,
                          validation_retries=validation_retries, max_tokens=max_tokens, temperature=temperature,
                          timeout_s=timeout, seed=seed, prices=prices, execute_code=execute)
    try:
        rep = run_generate(cfg, out, progress=progress)
    except KeyboardInterrupt:
        typer.echo(f"interrupted; every finished job is saved in {out}. Re-run the same command to resume.", err=True)
        raise typer.Exit(130)
    except ValueError as e:
        _fail(str(e))
    text = json.dumps(rep.as_dict(), indent=1)
    if report:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(text + "\n")
    typer.echo(text)


@app.command()
def validate(
    input: Annotated[Path, typer.Argument(help="JSONL of {user_query, output} rows.")],
    out: Annotated[Optional[Path], typer.Option(help="Write the accepted rows here.")] = None,
    execute: Annotated[bool, typer.Option(help="Run every sandbox program; reject those that fail.")] = True,
    dedup: Annotated[bool, typer.Option(help="Also remove exact and near-duplicate requests.")] = True,
    report: Annotated[Optional[Path], typer.Option(help="Write the rejection report (JSON) here.")] = None,
) -> None:
    """Three-layer validation (structural, quality, domain) with per-layer counts and reasons."""
    from datagen.dedup import dedup as run_dedup
    from datagen.jsonl import write_rows
    from datagen.validate import validate_rows

    rows = _load(input)
    accepted, rep = validate_rows(rows, execute=execute, progress=True)
    result = rep.as_dict()
    if dedup:
        keep, drep = run_dedup([r["user_query"] for r in accepted])
        accepted = [accepted[i] for i in keep]
        result["duplicates"] = {"exact": drep.exact_duplicates, "near": drep.near_duplicates}
    result["kept"] = len(accepted)
    if out:
        write_rows(out, accepted)
    text = json.dumps(result, indent=1)
    if report:
        report.write_text(text + "\n")
    typer.echo(text)


@app.command()
def split(
    input: Annotated[Path, typer.Argument(help="JSONL of validated rows.")],
    out: Annotated[Path, typer.Option(help="Directory for train.jsonl and test.jsonl.")] = DEFAULT_OUT,
    test_fraction: Annotated[float, typer.Option(min=0.01, max=0.5)] = 0.1,
    seed: Annotated[int, typer.Option()] = 7,
    chat_template: Annotated[Optional[Path], typer.Option(
        help="A Jinja chat template file: also write train.chat.jsonl / test.chat.jsonl with the rendered "
             "serving prompt (contract.build_messages + contract.render_prompt).")] = None,
    bos_token: Annotated[str, typer.Option(help="BOS token the template may reference.")] = "",
) -> None:
    """Stratified train/test split by intent (optionally formatted into chat-template training rows)."""
    from datagen.jsonl import write_rows
    from datagen.split import chat_row, stratified_split

    rows = _load(input)
    train, test = stratified_split(rows, test_fraction=test_fraction, seed=seed)
    write_rows(out / "train.jsonl", train)
    write_rows(out / "test.jsonl", test)
    if chat_template:
        if not chat_template.exists():
            _fail(f"chat template {chat_template} does not exist")
        template = chat_template.read_text()
        for name, part in (("train", train), ("test", test)):
            write_rows(out / f"{name}.chat.jsonl", (chat_row(r, template, bos_token=bos_token) for r in part))
    typer.echo(f"wrote {len(train)} train + {len(test)} test rows to {out}")


@app.command()
def publish(
    repo_id: Annotated[str, typer.Argument(help="Hub dataset id, owner/name.")],
    data_dir: Annotated[Path, typer.Option(help="Directory with README.md, train.jsonl, test.jsonl.")] = DEFAULT_OUT,
    dry_run: Annotated[bool, typer.Option(help="Write exactly what would be uploaded to --dry-run-dir; no network.")] = False,
    dry_run_dir: Annotated[Path, typer.Option()] = Path("runs/datagen/upload"),
    token_env: Annotated[str, typer.Option(help="Environment variable holding the Hub token.")] = "HF_TOKEN",
    private: Annotated[bool, typer.Option()] = False,
    message: Annotated[str, typer.Option(help="Commit message on the Hub.")] = "Update the router dataset",
) -> None:
    """Publish the dataset with huggingface_hub (validated first)."""
    import os

    from datagen.publish import PublishError, publish as run_publish

    try:
        manifest = run_publish(data_dir, repo_id, dry_run=dry_run, dry_run_dir=dry_run_dir,
                               token=os.environ.get(token_env), private=private, commit_message=message)
    except PublishError as e:
        _fail(str(e))
    where = f"dry run: wrote the upload to {dry_run_dir}" if dry_run else f"published {repo_id}"
    typer.echo(where)
    typer.echo(json.dumps(manifest, indent=1))


@app.command()
def stats(
    inputs: Annotated[list[Path], typer.Argument(help="One or more JSONL files of rows.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Intent mix, uniqueness, modes, operations and lengths of one or more row files."""
    from datagen.compose import MIX
    from datagen.stats import dataset_stats

    rows = [row for path in inputs for row in _load(path)]
    if not rows:
        _fail("no rows")
    s = dataset_stats(rows)
    if as_json:
        typer.echo(json.dumps(s, indent=1))
        return
    typer.echo(f"rows: {s['rows']}")
    for k, target in MIX.items():
        typer.echo(f"  {k:<9} {s['intent_counts'][k]:>6}  {s['intent_mix'][k] * 100:5.1f} %  (target {target * 100:.0f} %)")
    typer.echo(f"unique queries (normalised): {s['unique_queries_normalised'] * 100:.2f} %")
    typer.echo(f"distinct thoughts: {s['unique_thoughts'] * 100:.1f} %")
    typer.echo(f"file_manager rows missing their path: {s['file_manager_rows_missing_path']}")
    typer.echo(f"search modes: {s['search_modes']}  file ops: {s['file_operations']}")
