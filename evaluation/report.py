"""The evaluation report: JSON (every number), Markdown (the tables), PNG plots (matplotlib, headless)."""

from __future__ import annotations

import json
from pathlib import Path

from evaluation.metrics import INVALID, LABELS, Scores


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def markdown(results: dict[str, Scores], meta: dict) -> str:
    names = list(results)
    lines = [f"# Router evaluation: {meta.get('data', '')}", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()] + [""]
    lines += ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    rows = [
        ("requests", lambda s: str(s.n)),
        ("decision accuracy (status + tool)", lambda s: _pct(s.decision_accuracy)),
        ("argument accuracy (right tool, all scored fields exact)", lambda s: _pct(s.argument_accuracy)),
        ("valid decisions", lambda s: _pct(s.validity)),
        ("safety (destructive → ask_human)", lambda s: f"{_pct(s.safety)} of {s.destructive}"),
        ("invented paths (file_manager calls)", lambda s: f"{s.invented_paths} of {s.file_manager_calls}"),
        ("invented scopes (codebase_search calls)", lambda s: f"{s.invented_scopes} of {s.search_calls}"),
        ("latency p50", lambda s: _ms(s.latency_p50_ms)),
        ("latency p95", lambda s: _ms(s.latency_p95_ms)),
    ]
    lines += [f"| {title} | " + " | ".join(fn(results[n]) for n in names) + " |" for title, fn in rows]
    for name, s in results.items():
        lines += ["", f"## {name}: per decision class", "", "| class | precision | recall | F1 | support |",
                  "|---|---|---|---|---|"]
        lines += [f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
                  for k, v in s.per_tool.items()]
        lines += ["", "| argument field | accuracy | n |", "|---|---|---|"]
        lines += [f"| {k} | {_pct(v['accuracy'])} | {v['n']} |" for k, v in s.per_field.items()]
        lines += ["", "Confusion (rows gold, columns predicted):", "",
                  "| gold \\ predicted | " + " | ".join([*LABELS, INVALID]) + " |", "|---|" + "---|" * (len(LABELS) + 1)]
        lines += [f"| {LABELS[i]} | " + " | ".join(str(c) for c in row) + " |" for i, row in enumerate(s.confusion)]
        lines += _reliability_lines(s.calibration)
        if s.errors:
            lines += ["", "First errors:", ""] + [f"- `{e[:200]}`" for e in s.errors[:5]]
    return "\n".join(lines) + "\n"


def _reliability_lines(calibration: dict[str, dict]) -> list[str]:
    """Reliability table of meta.confidence: per branching key and bin, is p the share of right choices?"""
    if not calibration:
        return []
    lines = ["", "Calibration of meta.confidence (a key's choice is judged where the choices before it were "
             "right; the last key is the whole decision at its least confident key):", "",
             "| key | confidence | count | mean confidence | accuracy |", "|---|---|---|---|---|"]  # fmt: skip
    for key, table in calibration.items():
        lines += [f"| {key} | {b['bin']} | {b['count']} | {_pct(b['mean_confidence'])} | {_pct(b['accuracy'])} |"
                  for b in table["bins"] if b["count"]]  # fmt: skip
    lines += ["", "| key | n | expected calibration error |", "|---|---|---|"]
    lines += [f"| {key} | {t['n']} | {_pct(t['ece'])} |" for key, t in calibration.items()]
    return lines


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def plots(results: dict[str, Scores], latencies: dict[str, list[float]], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    written = []
    for name, s in results.items():
        fig, ax = plt.subplots(figsize=(7, 5.5))
        matrix = np.array(s.confusion)
        ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(len(LABELS) + 1), [*LABELS, INVALID], rotation=35, ha="right")
        ax.set_yticks(range(len(LABELS)), LABELS)
        for (i, j), v in np.ndenumerate(matrix):
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > matrix.max() / 2 else "black")
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        ax.set_title(f"{name}: decision accuracy {100 * s.decision_accuracy:.1f} %")
        fig.tight_layout()
        path = out / f"confusion-{_slug(name)}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, values in latencies.items():
        if values:
            ax.hist(values, bins=30, alpha=0.6, label=f"{name} (p50 {np.percentile(values, 50):.0f} ms)")
    ax.set_xlabel("latency per request (ms)")
    ax.set_ylabel("requests")
    ax.legend()
    fig.tight_layout()
    path = out / "latency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [*written, path]


def loss_plot(log_path: Path, out_path: Path) -> Path:
    """The training loss curve from a CPU run's train_log.jsonl."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    steps = [r["step"] for r in records]
    losses = np.array([r["loss"] for r in records])
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, losses, alpha=0.35, label="loss per step")
    if len(losses) >= 10:
        smooth = np.convolve(losses, np.ones(10) / 10, mode="valid")
        ax.plot(steps[9:], smooth, label="mean of 10 steps")
    ax.set_xlabel("step (batch of 8)")
    ax.set_ylabel("completion loss")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path


def write_report(results: dict[str, Scores], latencies: dict[str, list[float]], meta: dict, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    data = {"meta": meta, "results": {name: s.__dict__ for name, s in results.items()}}
    (out / "report.json").write_text(json.dumps(data, indent=2) + "\n")
    (out / "report.md").write_text(markdown(results, meta))
    return {"json": out / "report.json", "markdown": out / "report.md",
            **{p.stem: p for p in plots(results, latencies, out)}}
