"""Curated rows: requests written outside the composer, mixed into the training split.

The composer varies slot values, personas and styles, but every request still comes from one of its
templates; a model trained on it alone learns the templates and stumbles on how people really write
("the build is red, look at .github/workflows/ci.yml"). Curated files (`data/curated/*.jsonl`) hold
requests written one at a time, with their gold decisions, to widen that distribution.

They pass the same three validation layers as composed rows, sandbox programs executed. A curated row
that fails is an error to fix in its file, not a row to drop quietly: it was written by hand. A curated
request that duplicates a composed one (exact or near) is dropped and counted. Curated rows only go to
the training split, so the test split stays the composer's and stays comparable between datasets.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datagen.dedup import dedup
from datagen.jsonl import read_rows
from datagen.validate import validate_rows


class CuratedRowError(ValueError):
    """A curated file holds rows that do not validate; the message names each one and why."""


@dataclass
class CuratedReport:
    files: dict[str, int] = field(default_factory=dict)
    """Rows read from each file, by file name."""
    duplicates: int = 0
    """Curated requests dropped as exact or near duplicates of a composed request or of each other."""
    intents: Counter = field(default_factory=Counter)
    """Kept rows per intent."""


def load_curated(directory: Path, *, composed_queries: list[str], execute: bool = True
                 ) -> tuple[list[dict[str, Any]], CuratedReport]:
    """Every row of `directory/*.jsonl` (files in name order), validated and deduplicated against the
    composed requests and each other. Raises CuratedRowError if any row fails validation."""
    from datagen.compose import intent_of

    paths = sorted(directory.glob("*.jsonl"))
    if not paths:
        raise CuratedRowError(f"{directory} holds no *.jsonl files")
    report = CuratedReport()
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for path in paths:
        raw = read_rows(path)
        report.files[path.name] = len(raw)
        for line, row in enumerate(raw, start=1):
            accepted, rep = validate_rows([row], execute=execute)
            if accepted:
                rows.append(accepted[0])
                continue
            layer = next(name for name, n in rep.rejected_by_layer.items() if n)
            reason = next(iter(rep.reasons[layer]))
            problems.append(f"{path.name}:{line}: {layer}: {reason}")
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise CuratedRowError(f"{len(problems)} curated rows do not validate:\n  {shown}{more}")
    keep, _ = dedup(composed_queries + [r["user_query"] for r in rows])
    offset = len(composed_queries)
    kept = [rows[i - offset] for i in keep if i >= offset]
    report.duplicates = len(rows) - len(kept)
    report.intents.update(intent_of(r["output"]) for r in kept)
    return kept, report
