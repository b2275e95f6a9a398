"""Three-layer validation of training rows, with per-layer rejection counts and reasons.

1. structural: the row is a `contract.TrainingExample` (the decision validates, no extra keys).
2. quality: lengths, thoughts that parrot the request, generic or vague text, leftover placeholders.
3. domain: tool-argument sanity (search mode rules, a file_manager path that the request contains,
   patch targets quoted from the request, sandbox code that compiles, prints and does nothing
   dangerous, and optionally runs).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from contract import TrainingExample, dump_decision

LAYERS = ("structural", "quality", "domain")

MAX_QUERY_CHARS = 2000
MAX_THOUGHT_WORDS = 30  # the contract allows 60; we train short thoughts because tokens are latency
_PLACEHOLDER = re.compile(r"((?<![\w\\)\]])\{\d+\}|\{\{\s*\w+\s*\}\}|<(path|file|symbol|query|insert)[^>]*>|lorem ipsum|\bfoo_placeholder\b|\x00)", re.I)
_TEMPLATE_LEFTOVER = re.compile(r"(?<![\w\\])\{\d+\}|\x00")  # answers may legitimately say <file>
_GENERIC_THOUGHTS = re.compile(
    r"^(i (will|'ll) (use|call) (the|a) tool\.?|calling (the )?tool\.?|using (the )?tool\.?|n/?a\.?|none\.?|"
    r"i need to (do|handle) (this|the request)\.?|let me help( you)?( with (this|that))?\.?)$", re.I)
_GENERIC_ANSWERS = re.compile(r"^(i don't know|as an ai|i cannot help|sorry,? i can't|n/?a)\b", re.I)
_DANGEROUS_CODE = re.compile(
    r"(\bos\.system\b|\bsubprocess\b|\bshutil\.rmtree\b|\bos\.(remove|unlink|rmdir|kill)\b|\bsocket\b|\brequests\.|"
    r"urllib\.request|\bctypes\b|__import__\(|\beval\(|\bexec\(|open\([^)]*['\"][wa]\+?['\"]|\bPath\([^)]*\)\.(unlink|rmdir|write_)|"
    r"\bsys\.exit\b|\bos\.environ\b|\bpickle\.loads\b|while True:\s*pass)")


@dataclass
class Rejection:
    index: int
    layer: str
    reason: str


@dataclass
class ValidationReport:
    total: int = 0
    accepted: int = 0
    rejected_by_layer: Counter = field(default_factory=Counter)
    reasons: dict[str, Counter] = field(default_factory=lambda: {layer: Counter() for layer in LAYERS})

    def add(self, rejection: Rejection) -> None:
        self.rejected_by_layer[rejection.layer] += 1
        self.reasons[rejection.layer][rejection.reason] += 1

    def merge(self, other: ValidationReport) -> None:
        self.total += other.total
        self.accepted += other.accepted
        self.rejected_by_layer.update(other.rejected_by_layer)
        for layer, counts in other.reasons.items():
            self.reasons[layer].update(counts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total, "accepted": self.accepted,
            "rejected": {layer: self.rejected_by_layer.get(layer, 0) for layer in LAYERS},
            "reasons": {layer: dict(self.reasons[layer].most_common()) for layer in LAYERS},
        }


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def parrots(thought: str, query: str, n: int = 4, limit: float = 0.5) -> bool:
    """True when most of the thought's word n-grams are copied from the query."""
    tw, qw = _words(thought), _words(query)
    if len(tw) < n:
        return False
    tgrams = [tuple(tw[i:i + n]) for i in range(len(tw) - n + 1)]
    qgrams = {tuple(qw[i:i + n]) for i in range(len(qw) - n + 1)}
    return sum(g in qgrams for g in tgrams) / len(tgrams) > limit


def structural(row: Any) -> tuple[TrainingExample | None, str | None]:
    if not isinstance(row, dict):
        return None, "row is not a JSON object"
    row = {k: v for k, v in row.items() if k != "meta"}  # `meta` is a sidecar annotation, never trained on
    try:
        example = TrainingExample.model_validate(row)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        return None, f"{loc}: {err['type']}"
    return example, None


def quality(example: TrainingExample) -> str | None:
    query = example.user_query
    if len(query.strip()) < 3:
        return "query too short"
    if len(query) > MAX_QUERY_CHARS:
        return f"query longer than {MAX_QUERY_CHARS} chars"
    if _PLACEHOLDER.search(query):
        return "placeholder left in query"
    out = example.output
    if out.status == "complete":
        answer = out.final_answer
        if len(answer.split()) < 3:
            return "final_answer too short"
        if _GENERIC_ANSWERS.search(answer):
            return "generic final_answer"
        if _TEMPLATE_LEFTOVER.search(answer):
            return "placeholder left in final_answer"
        return None
    thought = out.thought or ""
    if len(thought.split()) > MAX_THOUGHT_WORDS:
        return f"thought longer than {MAX_THOUGHT_WORDS} words"
    if _GENERIC_THOUGHTS.match(thought.strip()):
        return "generic thought"
    if _PLACEHOLDER.search(thought) or "TODO" in thought:
        return "placeholder left in thought"
    if parrots(thought, query):
        return "thought parrots the query"
    if thought.strip().lower().rstrip(".") == query.strip().lower().rstrip(".?!"):
        return "thought repeats the query"
    return None


def domain(example: TrainingExample, *, execute: bool = False) -> str | None:
    out = example.output
    if out.status == "complete":
        return None
    call = out.tool_use
    args = call.arguments
    query = example.user_query
    if call.tool_name == "codebase_search":
        if args.file_pattern is not None and args.mode != "hybrid":
            return "file_pattern given but mode is not hybrid"
        if args.mode == "exact" and len(args.query.split()) > 12:
            return "exact search for a long phrase"
        if _PLACEHOLDER.search(args.query):
            return "placeholder in search query"
    elif call.tool_name == "file_manager":
        if args.path.rstrip("/") not in query:
            return "file_manager path not in the query"
        if args.operation == "patch" and args.target_string not in query:
            return "patch target_string not in the query"
        if args.operation == "patch" and args.target_string == args.replacement_string:
            return "patch changes nothing"
    elif call.tool_name == "sandbox_exec":
        code = args.code
        try:
            compile(code, "<sandbox>", "exec")
        except SyntaxError as e:
            return f"code does not compile: {e.msg}"
        if "print" not in code:
            return "code prints nothing"
        if _DANGEROUS_CODE.search(code):
            return "dangerous code"
        if execute:
            from datagen.sandbox_run import run_program

            result = run_program(code, timeout=min(args.timeout, 10))
            if not result.ok:
                return f"code failed: {result.error[:80]}"
    elif call.tool_name == "ask_human":
        if "?" not in args.question:
            return "ask_human question is not a question"
    return None


def validate_rows(rows: list[Any], *, execute: bool = False, progress: bool = False) -> tuple[list[dict], ValidationReport]:
    """Rows that pass all three layers (as compact dicts), and the report."""
    report = ValidationReport(total=len(rows))
    accepted: list[dict] = []
    iterator = enumerate(rows)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, total=len(rows), desc="validate", unit="row")
    for i, row in iterator:
        example, reason = structural(row)
        if example is None:
            report.add(Rejection(i, "structural", reason or "invalid"))
            continue
        for layer, check in (("quality", quality), ("domain", lambda e: domain(e, execute=execute))):
            reason = check(example)
            if reason:
                report.add(Rejection(i, layer, reason))
                break
        else:
            accepted.append(to_row(example))
    report.accepted = len(accepted)
    return accepted, report


def to_row(example: TrainingExample) -> dict:
    """The canonical row: the request and the decision exactly as `dump_decision` writes it (no nulls)."""
    import json

    return {"user_query": example.user_query, "output": json.loads(dump_decision(example.output))}
