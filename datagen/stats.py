"""Dataset statistics and the dataset card (README.md) that reports them."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from datagen.compose import MIX, intent_of
from datagen.dedup import normalise

TOOL_OF = {"search": "codebase_search", "compute": "sandbox_exec", "modify": "file_manager",
           "direct": "(direct answer)", "escalate": "ask_human"}


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f} %" if total else "-"


def dataset_stats(rows: list[dict[str, Any]], metas: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Everything the card and the acceptance checks need, from rows (and optional per-row metadata)."""
    total = len(rows)
    intents = Counter(intent_of(r["output"]) for r in rows)
    thoughts = [r["output"].get("thought") for r in rows if r["output"].get("status") == "running"]
    thoughts = [t for t in thoughts if t]
    qlens = [len(r["user_query"]) for r in rows]
    twords = [len(t.split()) for t in thoughts]
    modes = Counter(r["output"]["tool_use"]["arguments"]["mode"] for r in rows
                    if r["output"].get("tool_use", {}).get("tool_name") == "codebase_search")
    ops = Counter(r["output"]["tool_use"]["arguments"]["operation"] for r in rows
                  if r["output"].get("tool_use", {}).get("tool_name") == "file_manager")
    fm_missing_path = sum(1 for r in rows if r["output"].get("tool_use", {}).get("tool_name") == "file_manager"
                          and r["output"]["tool_use"]["arguments"]["path"].rstrip("/") not in r["user_query"])
    out: dict[str, Any] = {
        "rows": total,
        "intent_mix": {k: round(intents.get(k, 0) / total, 4) if total else 0 for k in MIX},
        "intent_counts": {k: intents.get(k, 0) for k in MIX},
        "unique_queries_normalised": len({normalise(r["user_query"]) for r in rows}) / total if total else 0,
        "unique_thoughts": len(set(thoughts)) / len(thoughts) if thoughts else 0,
        "search_modes": dict(modes), "file_operations": dict(ops), "file_manager_rows_missing_path": fm_missing_path,
        "query_chars": _summary(qlens), "thought_words": _summary(twords),
    }
    if metas:
        for key in ("domain", "persona", "style", "subtype"):
            out[key + "s"] = dict(Counter(m.get(key, "?") for m in metas).most_common())
        out["knowledge_topics"] = len({m["topic"] for m in metas if m.get("topic")})
    return out


def _summary(xs: list[int]) -> dict[str, float]:
    if not xs:
        return {}
    xs = sorted(xs)
    return {"min": xs[0], "median": statistics.median(xs), "mean": round(statistics.mean(xs), 1),
            "p95": xs[int(0.95 * (len(xs) - 1))], "max": xs[-1]}


def render_card(stats: dict[str, Any], *, train: int, test: int, command: str,
                rejections: dict[str, Any] | None = None, dedup: dict[str, Any] | None = None,
                curated: dict[str, Any] | None = None) -> str:
    """The dataset card, with Hugging Face metadata up front. `curated` is what `datagen.curated` added to
    the training split (the figures above it describe the composed rows only)."""
    total = stats["rows"]
    lines = [
        "---", "license: apache-2.0", "language: [en]", "task_categories: [text-generation]",
        "tags: [tool-use, routing, function-calling, json, synthetic]",
        "configs:", "- config_name: default", "  data_files:", "  - split: train", "    path: train.jsonl",
        "  - split: test", "    path: test.jsonl", "---", "",
        "# Agent router: routing decisions for coding-agent requests", "",
        "Each row pairs a request written to a coding agent with the one JSON decision the router should make:",
        "call `codebase_search`, `file_manager`, `sandbox_exec` or `ask_human`, or answer directly.",
        "Rows are `{\"user_query\": str, \"output\": decision}`; `output` validates against `contract.Decision` and",
        "is written as the compact JSON `contract.dump_decision` produces (absent fields left out, no nulls).",
        "", "Synthetic, composed offline from a seed by `datagen` (no LLM, no network)"
        + (", plus curated rows written one at a time (below)" if curated else "") + ": see `docs/datagen.md`.",
        "", "## Reproduce", "", "```", command, "```", "",
        f"## Size\n\n{total} composed rows: {train - (curated or {}).get('kept', 0)} train, {test} test (split stratified "
        "by intent)" + (f", and {curated['kept']} curated rows in train only ({train} train in all)." if curated else "."), "",
        "## Intent mix", "", "| intent | tool | rows | share | target |", "|---|---|---:|---:|---:|",
    ]
    for k, target in MIX.items():
        n = stats["intent_counts"][k]
        lines.append(f"| {k} | {TOOL_OF[k]} | {n} | {_pct(n, total)} | {target * 100:.0f} % |")
    lines += ["", "## Quality figures", "",
              f"- unique requests after normalisation: {stats['unique_queries_normalised'] * 100:.2f} %",
              f"- distinct thoughts: {stats['unique_thoughts'] * 100:.1f} % of running decisions",
              f"- file_manager rows whose path is missing from the request: {stats['file_manager_rows_missing_path']}",
              f"- codebase_search modes: {_inline(stats['search_modes'])}",
              f"- file_manager operations: {_inline(stats['file_operations'])}",
              f"- request length (chars): {_inline(stats['query_chars'])}",
              f"- thought length (words): {_inline(stats['thought_words'])}"]
    if "domains" in stats:
        lines += ["", "## Diversity", "",
                  f"- {len(stats['domains'])} software domains, {len(stats['personas'])} personas, "
                  f"{len(stats['styles'])} query styles, {stats.get('knowledge_topics', 0)} knowledge-bank topics in direct answers",
                  "", "| style | rows |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in stats["styles"].items()]
        lines += ["", "| domain | rows |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in stats["domains"].items()]
        lines += ["", "| persona | rows |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in stats["personas"].items()]
        lines += ["", "| subtype | rows |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in stats["subtypes"].items()]
    if curated:
        lines += ["", "## Curated rows", "",
                  f"{curated['kept']} requests written one at a time (not from the composer's templates), from "
                  f"`{curated['folder']}`, each validated by the same three layers; training split only. "
                  f"{curated['duplicates']} duplicated a composed request and were dropped. The intent figures above "
                  "are the composed rows'.", "", "| file | rows |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in curated["files"].items()]
        lines += ["", "| intent | kept rows |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in curated["intents"].items()]
    if rejections:
        lines += ["", "## Validation and rejection rates", "",
                  f"Candidates drafted: {rejections.get('drafted', '?')}; sandbox programs that failed and were dropped: "
                  f"{rejections.get('sandbox_failed', 0)}.", "",
                  "| layer | rejected | rate | reasons |", "|---|---:|---:|---|"]
        v = rejections["validation"]
        for layer, n in v["rejected"].items():
            lines.append(f"| {layer} | {n} | {_pct(n, v['total'])} | {_inline(v['reasons'][layer]) or '-'} |")
    if dedup:
        lines += ["", f"Duplicates removed: {dedup['exact']} exact, {dedup['near']} near (Jaccard ≥ 0.8 on word 2-gram and "
                      "character 4-gram shingles, MinHash LSH)."]
    lines += ["", "## Limitations", "",
              "- Template-composed: the phrasing is varied by personas, styles and slot values, but a model trained only "
              "on it will still see a narrower distribution than real users; mix in LLM-generated rows "
              "(`router datagen generate`) where an API is available.",
              "- Knowledge answers are short and general; they are not a substitute for documentation.",
              "- Symbols, paths and errors are realistic but invented; no real repository is described.", ""]
    return "\n".join(lines)


def _inline(d: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in d.items())
