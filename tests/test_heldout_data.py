"""The held-out realistic sets (data/heldout/*.jsonl): valid, unseen by training, and balanced as documented."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from contract import CompleteDecision, RunningDecision, TrainingExample
from datagen.dedup import jaccard, shingles
from evaluation.metrics import is_destructive

ROOT = Path(__file__).resolve().parents[1]
HELDOUT_SETS = {path.name: {"realistic.jsonl": 15, "realistic-b.jsonl": 8}.get(path.name, 10)
                for path in sorted((ROOT / "data" / "heldout").glob("realistic*.jsonl"))}
"""Each held-out file and the fewest destructive requests (routed to ask_human) it must hold."""
CURATED = [path for folder in ("curated", "curated-evening", "prior") for path in sorted((ROOT / "data" / folder).glob("*.jsonl"))]
"""Hand-written training rows: the adapter's curated rows, and the rows only the decision prior learns from."""
NEAR = 0.5
"""Word 2-gram + character 4-gram Jaccard at which a training request counts as a held-out one reworded."""
ROUTER_SPLITS = [ROOT / "data" / "router" / "train.jsonl", ROOT / "data" / "router" / "test.jsonl"]
DESTRUCTIVE_TAG = "Destructive:"
"""Gold ask_human rows asked for destructiveness carry this prefix in `context` (see docs/heldout.md)."""

# Target share of each class and the tolerance around it (percentage points), as in docs/heldout.md.
MIX = {"codebase_search": 30, "sandbox_exec": 20, "file_manager": 20, "answer": 15, "ask_human": 15}
TOLERANCE = 5
MIN_ROWS = 150


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _label(example: TrainingExample) -> str:
    out = example.output
    return out.tool_use.tool_name if isinstance(out, RunningDecision) else "answer"


def _is_destructive(example: TrainingExample) -> bool:
    """A gold ask_human row for a destructive request: tagged in its context (the first set's convention)
    or reading as destructive to the rule the evaluation's safety score uses."""
    if _label(example) != "ask_human":
        return False
    context = example.output.tool_use.arguments.context or ""
    return context.startswith(DESTRUCTIVE_TAG) or is_destructive(example)


@pytest.fixture(scope="module", params=sorted(HELDOUT_SETS))
def heldout(request) -> tuple[str, list[TrainingExample]]:
    path = ROOT / "data" / "heldout" / request.param
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    parsed = []
    for number, line in enumerate(lines, start=1):
        try:
            parsed.append(TrainingExample.model_validate_json(line))
        except ValueError as exc:  # pydantic.ValidationError is a ValueError
            pytest.fail(f"{path.name}:{number} does not parse into the contract: {exc}")
    return request.param, parsed


@pytest.fixture(scope="module")
def rows(heldout) -> list[TrainingExample]:
    return heldout[1]


def test_every_row_parses_and_the_set_is_big_enough(rows):
    assert len(rows) >= MIN_ROWS
    assert all(isinstance(r.output, (RunningDecision, CompleteDecision)) for r in rows)


def test_queries_are_unique_and_unseen_by_the_router_splits(rows):
    queries = [_norm(r.user_query) for r in rows]
    assert len(set(queries)) == len(queries), "duplicate queries in the held-out set"
    seen = set()
    for split in ROUTER_SPLITS:
        for line in split.read_text(encoding="utf-8").splitlines():
            if line.strip():
                seen.add(_norm(json.loads(line)["user_query"]))
    leaked = [q for q in queries if q in seen]
    assert not leaked, f"held-out queries also in data/router/: {leaked}"


def test_no_curated_training_request_rewords_a_held_out_one(rows):
    """Curated rows are written the way held-out rows are, so they are checked for near copies too."""
    held = [shingles(r.user_query) for r in rows]
    near = []
    for path in CURATED:
        for line in path.read_text(encoding="utf-8").splitlines():
            query = json.loads(line)["user_query"]
            similarity = max(jaccard(shingles(query), h) for h in held)
            if similarity >= NEAR:
                near.append((path.name, round(similarity, 2), query))
    assert not near, near


def test_file_manager_paths_are_written_in_the_query(rows):
    for r in rows:
        if _label(r) == "file_manager":
            path = r.output.tool_use.arguments.path
            assert path in r.user_query, f"gold path {path!r} is not in query {r.user_query!r}"


def test_class_mix_is_within_the_documented_ranges(rows):
    counts = Counter(_label(r) for r in rows)
    assert set(counts) == set(MIX)
    for name, target in MIX.items():
        share = 100 * counts[name] / len(rows)
        assert abs(share - target) <= TOLERANCE, f"{name}: {share:.1f} % (target {target} ± {TOLERANCE})"


def test_destructive_requests_are_ask_human_and_counted(heldout):
    name, rows = heldout
    tagged = [r for r in rows if _is_destructive(r)]
    assert len(tagged) >= HELDOUT_SETS[name]
    # The tag is only ever used on ask_human rows.
    for r in rows:
        if _label(r) != "ask_human" and isinstance(r.output, RunningDecision):
            assert DESTRUCTIVE_TAG not in r.output.model_dump_json()


def test_thoughts_do_not_parrot_the_query_and_code_compiles(rows):
    for r in rows:
        if isinstance(r.output, RunningDecision):
            assert _norm(r.output.thought) != _norm(r.user_query)
            if _label(r) == "sandbox_exec":
                code = r.output.tool_use.arguments.code
                compile(code, "<heldout>", "exec")
                assert "print(" in code, f"sandbox code must print its result: {r.user_query!r}"


def test_search_modes_are_all_represented(rows):
    modes = Counter(r.output.tool_use.arguments.mode for r in rows if _label(r) == "codebase_search")
    assert all(modes[m] >= 10 for m in ("exact", "semantic", "hybrid")), modes
    scoped = [r for r in rows if _label(r) == "codebase_search" and r.output.tool_use.arguments.file_pattern]
    assert scoped and all(r.output.tool_use.arguments.mode == "hybrid" for r in scoped)
