"""The offline composer: deterministic from a seed, no network, diverse by construction.

Each row draws a domain, a persona and a style, builds a request for its intent with realistic slot
values, and pairs it with the decision the routing rules prescribe. Every row is validated against
the contract and the quality and domain layers; every sandbox program is executed and kept only if
it succeeds and prints; near-duplicate requests are removed. Rows are drawn per intent until each
intent's quota of the target mix is met.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from datagen.dedup import DedupReport, dedup
from datagen.domains import DOMAINS
from datagen.intents import BUILDERS, Draft
from datagen.sandbox_run import run_many
from datagen.styles import PERSONAS, apply_style, mark, pick_style, unmark, with_persona
from datagen.thoughts import shorten
from datagen.validate import ValidationReport, validate_rows

MIX: dict[str, float] = {"search": 0.35, "compute": 0.24, "modify": 0.18, "direct": 0.15, "escalate": 0.08}

TOOL_INTENT = {"codebase_search": "search", "sandbox_exec": "compute", "file_manager": "modify", "ask_human": "escalate"}


def intent_of(output: dict[str, Any]) -> str:
    """The intent a decision expresses (how the mix is measured)."""
    if output.get("status") == "complete":
        return "direct"
    return TOOL_INTENT[output["tool_use"]["tool_name"]]


def quotas(n: int, mix: dict[str, float] = MIX) -> dict[str, int]:
    """Integer quotas that sum to n (largest remainders)."""
    raw = {k: n * v for k, v in mix.items()}
    out = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - out[k], reverse=True)[: n - sum(out.values())]:
        out[k] += 1
    return out


@dataclass
class ComposeReport:
    requested: int = 0
    drafted: int = 0
    sandbox_failed: int = 0
    sandbox_errors: Counter = field(default_factory=Counter)
    validation: ValidationReport = field(default_factory=ValidationReport)
    dedup: DedupReport = field(default_factory=DedupReport)


# Styles that only make sense for some intents (a code snippet next to a unit conversion reads oddly).
ONLY_FOR = {"code_mixed": ("search",), "multi_part": ("search", "modify", "compute")}


def render(rng: random.Random, draft: Draft) -> tuple[str, str, str]:
    """The final request text, with the style and persona used."""
    persona = rng.choice(PERSONAS)
    style = pick_style(rng) if draft.styleable else "plain"
    while style in ONLY_FOR and draft.intent not in ONLY_FOR[style]:
        style = pick_style(rng)
    marked = apply_style(rng, style, mark(draft.text, len(draft.slots)))
    marked = with_persona(rng, persona, marked)
    if style in ("plain", "polite", "verbose", "hedged", "narrative", "markdown") and marked[:1].islower() and rng.random() < 0.6:
        marked = marked[0].upper() + marked[1:]
    text = unmark(marked, draft.slots)
    if text is None:  # a style damaged a slot marker: fall back to the unstyled request
        style = "plain"
        text = unmark(mark(draft.text, len(draft.slots)), draft.slots) or draft.text
    return text.strip(), persona.name, style


def draft_row(seed: int, intent: str, index: int, short_thoughts: bool = False) -> dict[str, Any]:
    """One candidate row (with a `meta` key), a pure function of (seed, intent, index, short_thoughts)."""
    rng = random.Random(f"{seed}:{intent}:{index}")
    domain = rng.choice(DOMAINS)
    builders = BUILDERS[intent]
    builder = rng.choices([b for b, _ in builders], weights=[w for _, w in builders])[0]
    draft = builder(rng, domain)
    query, persona, style = render(rng, draft)
    if short_thoughts and "thought" in draft.decision:
        draft.decision["thought"] = shorten(draft.decision["thought"])
    meta = {"intent": intent, "subtype": draft.subtype, "domain": domain.name, "persona": persona, "style": style,
            "seed": seed, "index": index, **draft.extra}
    return {"user_query": query, "output": draft.decision, "meta": meta}


def compose(n: int, seed: int = 0, *, mix: dict[str, float] = MIX, progress: bool = False,
            max_rounds: int = 6, short_thoughts: bool = False) -> tuple[list[dict[str, Any]], ComposeReport]:
    """n validated, deduplicated rows in the target mix; each row carries `meta` (drop it to train).

    `short_thoughts` keeps each thought's reason clause only (see datagen.thoughts.shorten)."""
    report = ComposeReport(requested=n)
    want = quotas(n, mix)
    kept: dict[str, list[dict[str, Any]]] = {k: [] for k in want}
    next_index = dict.fromkeys(want, 0)
    all_queries: list[str] = []
    for _round in range(max_rounds):
        missing = {k: want[k] - len(kept[k]) for k in want if len(kept[k]) < want[k]}
        if not missing:
            break
        drafts: list[dict[str, Any]] = []
        for intent, short in missing.items():
            count = int(short * 1.25) + 5
            drafts += [draft_row(seed, intent, next_index[intent] + i, short_thoughts) for i in range(count)]
            next_index[intent] += count
        report.drafted += len(drafts)
        drafts = _run_sandbox(drafts, report, progress)
        valid_idx, vreport = _validate(drafts, progress)
        report.validation.merge(vreport)
        candidates = [drafts[i] for i in valid_idx]
        keep, dreport = dedup(all_queries + [c["user_query"] for c in candidates])
        report.dedup.exact_duplicates += dreport.exact_duplicates
        report.dedup.near_duplicates += dreport.near_duplicates
        report.dedup.examples = (report.dedup.examples + dreport.examples)[:5]
        offset = len(all_queries)
        fresh = [candidates[i - offset] for i in keep if i >= offset]
        for row in fresh:
            intent = row["meta"]["intent"]
            if len(kept[intent]) < want[intent]:
                kept[intent].append(row)
                all_queries.append(row["user_query"])
    shortfall = {k: want[k] - len(v) for k, v in kept.items() if len(v) < want[k]}
    if shortfall:
        raise RuntimeError(f"could not fill the mix after {max_rounds} rounds; short by {shortfall}")
    rows = [row for intent in want for row in kept[intent]]
    random.Random(seed).shuffle(rows)
    report.dedup.kept = len(rows)
    return rows, report


def _run_sandbox(drafts: list[dict[str, Any]], report: ComposeReport, progress: bool) -> list[dict[str, Any]]:
    codes = [d["output"]["tool_use"]["arguments"]["code"] for d in drafts if d["meta"]["intent"] == "compute"]
    results = run_many(codes, timeout=10, progress=progress)
    out = []
    for d in drafts:
        if d["meta"]["intent"] == "compute":
            res = results[d["output"]["tool_use"]["arguments"]["code"]]
            if not res.ok:
                report.sandbox_failed += 1
                report.sandbox_errors[res.error[:100]] += 1
                continue
            d["meta"]["sandbox_stdout"] = res.stdout[:300]
        out.append(d)
    return out


def _validate(drafts: list[dict[str, Any]], progress: bool) -> tuple[list[int], ValidationReport]:
    """Indices of drafts that pass the three layers (validation sees rows without meta)."""
    accepted_idx: list[int] = []
    total = ValidationReport()
    for i, d in enumerate(drafts):
        _, rep = validate_rows([{"user_query": d["user_query"], "output": d["output"]}])
        total.merge(rep)
        if rep.accepted:
            accepted_idx.append(i)
    return accepted_idx, total
