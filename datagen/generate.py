"""The LLM generator: batched structured generation of TrainingExamples with instructor + litellm.

It talks to any OpenAI-compatible base URL (a vLLM or llama.cpp server, a hosted API). What it does:
- a deterministic plan of jobs from a seed: each job asks for `batch_size` examples of one intent,
  domain, persona and style (the composer's axes, so LLM rows are as spread out as composed ones),
  with one composed example of that intent as an anchor;
- model roulette: job i starts on models[i % len(models)], and every retry moves to the next model;
- retries with exponential backoff and jitter on transport errors; instructor re-asks on invalid output;
- a rate limit (requests per minute) and bounded concurrency;
- token and cost accounting per model (litellm's price table, else the configured prices);
- every accepted row is appended (flushed, fsynced) as soon as its batch returns; a job's rows are
  written in one write and carry `meta.job`/`meta.of`, so a resumed run drops a torn job and redoes
  it, skips finished ones, and never leaves gaps or duplicates.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator

from contract import SYSTEM_PROMPT, TrainingExample
from datagen.compose import MIX, draft_row, quotas
from datagen.domains import DOMAINS
from datagen.jsonl import dumps, read_rows, write_rows
from datagen.styles import PERSONAS, STYLES
from datagen.validate import ValidationReport, validate_rows


@dataclass
class GeneratorConfig:
    models: list[str]
    """litellm model names, e.g. "openai/gpt-4o-mini" or "openai/<served name>" for a local server."""
    base_url: str | None = None
    """OpenAI-compatible base URL (…/v1). None: the provider's default endpoint."""
    api_key: str | None = None
    """Key for the endpoint; local servers ignore it (a dummy is sent so the client does not refuse)."""
    rows: int = 100
    """How many examples to ask for in total."""
    batch_size: int = 5
    """Examples per request."""
    concurrency: int = 4
    """Requests in flight at once."""
    requests_per_minute: float = 60.0
    """Rate limit across all models."""
    max_attempts: int = 4
    """Attempts per job on transport errors (each attempt moves to the next model)."""
    validation_retries: int = 1
    """instructor re-asks when the output does not validate."""
    backoff_s: float = 1.0
    """First retry delay; doubles each attempt, with jitter."""
    temperature: float = 0.9
    max_tokens: int = 2048
    timeout_s: float = 120.0
    seed: int = 0
    execute_code: bool = True
    """Run every sandbox program before accepting its row."""
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    """USD per million (prompt, completion) tokens, for models litellm has no price for."""


class WireExample(BaseModel):
    """One example as the LLM writes it. The schema is kept loose on purpose (no length limits or
    patterns: providers' strict modes and llama.cpp's grammar converter reject or choke on them);
    the validator below holds it to the full contract, and instructor feeds its errors back."""

    user_query: str
    output: dict[str, Any]

    @model_validator(mode="after")
    def _contract(self) -> WireExample:
        TrainingExample.model_validate({"user_query": self.user_query, "output": self.output})
        return self


class GeneratedBatch(BaseModel):
    """What the LLM must return: a list of routing examples."""

    examples: list[WireExample] = Field(min_length=1)


@dataclass
class Job:
    index: int
    intent: str
    domain: str
    persona: str
    style: str
    size: int


@dataclass
class ModelUsage:
    requests: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class GenerationReport:
    jobs_planned: int = 0
    jobs_skipped: int = 0
    jobs_done: int = 0
    jobs_failed: int = 0
    rows_written: int = 0
    torn_rows_dropped: int = 0
    usage: dict[str, ModelUsage] = field(default_factory=dict)
    validation: ValidationReport = field(default_factory=ValidationReport)
    errors: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k not in ("validation", "errors", "usage")}
        d["usage"] = {m: asdict(u) for m, u in self.usage.items()}
        d["totals"] = {k: sum(getattr(u, k) for u in self.usage.values())
                       for k in ("requests", "prompt_tokens", "completion_tokens", "cost_usd")}
        d["validation"] = self.validation.as_dict()
        d["errors"] = dict(self.errors.most_common(20))
        return d


TOOLS_FOR = {"search": "codebase_search", "compute": "sandbox_exec", "modify": "file_manager",
             "direct": "a direct answer (status complete)", "escalate": "ask_human"}
RULES = """Rules for the decision:
- codebase_search: mode "exact" for symbols and literal strings, "semantic" for concepts, "hybrid" for a mix or when the request is scoped to some files (then give file_pattern, a glob).
- file_manager: only when the request itself contains the relative path; copy the path, patch target_string/replacement_string and write content verbatim from the request. Without a path, use codebase_search.
- sandbox_exec: Python that prints the answer, for calculations and checks; timeout 10.
- ask_human: destructive or irreversible operations (drop, delete, truncate, force-push, rotate secrets, disable safety checks, production changes) and requests too vague to act on.
- complete: general software knowledge, answered correctly and briefly in final_answer.
- thought: one line, 8 to 20 words, the reason for the choice; never repeat the request.
Requests must read like real messages to a coding agent: varied wording, realistic names, no placeholders."""


def plan(cfg: GeneratorConfig) -> list[Job]:
    """The deterministic job list: the intent mix over jobs, axes drawn from the seed."""
    n_jobs = max(1, -(-cfg.rows // cfg.batch_size))
    per_intent = quotas(n_jobs, MIX)
    intents = [k for k, n in per_intent.items() for _ in range(n)]
    rng = random.Random(f"plan:{cfg.seed}")
    rng.shuffle(intents)
    jobs, remaining = [], cfg.rows
    for i, intent in enumerate(intents):
        size = min(cfg.batch_size, remaining)
        if size <= 0:
            break
        remaining -= size
        jobs.append(Job(i, intent, rng.choice(DOMAINS).name, rng.choice(PERSONAS).name, rng.choice(sorted(STYLES)), size))
    return jobs


def messages_for(job: Job, seed: int) -> list[dict[str, str]]:
    anchor = draft_row(seed, job.intent, 10_000 + job.index)
    example = json.dumps({"user_query": anchor["user_query"], "output": anchor["output"]}, ensure_ascii=False)
    system = (f"You write training data for a router model. Its own instructions are: \"{SYSTEM_PROMPT}\"\n\n"
              f"{RULES}\n\nAn example of the format:\n{example}")
    user = (f"Write {job.size} new, different example(s) whose correct decision is {TOOLS_FOR[job.intent]}. "
            f"Software domain: {job.domain}. The person writing is a {job.persona}; writing style: "
            f"{job.style.replace('_', ' ')}. Return them in `examples`.")
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


class RateLimiter:
    """At most `per_minute` acquisitions per minute, evenly spaced."""

    def __init__(self, per_minute: float):
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            now = time.monotonic()
            wait = self._next - now
            self._next = max(now, self._next) + self.interval
        if wait > 0:
            await asyncio.sleep(wait)


def resume_state(out: Path) -> tuple[set[int], int]:
    """Finished job ids, after dropping the rows of any job that was cut off mid-write."""
    rows = read_rows(out, repair=True)
    count = Counter(r.get("meta", {}).get("job") for r in rows)
    complete = {job for job, n in count.items() if job is not None and
                all(r["meta"].get("of") == n for r in rows if r.get("meta", {}).get("job") == job)}
    kept = [r for r in rows if r.get("meta", {}).get("job") in complete]
    dropped = len(rows) - len(kept)
    if dropped:
        write_rows(out, kept)
    return complete, dropped


def _transient_errors() -> tuple[type[BaseException], ...]:
    import litellm
    import openai

    return (litellm.exceptions.APIConnectionError, litellm.exceptions.RateLimitError, litellm.exceptions.Timeout,
            litellm.exceptions.ServiceUnavailableError, litellm.exceptions.InternalServerError,
            openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError, openai.InternalServerError,
            asyncio.TimeoutError, ConnectionError)


def _cost(model: str, raw: Any, usage: ModelUsage, cfg: GeneratorConfig, pt: int, ct: int) -> float:
    if model in cfg.prices:
        pin, pout = cfg.prices[model]
        return (pt * pin + ct * pout) / 1e6
    try:
        import litellm

        return float(litellm.completion_cost(completion_response=raw, model=model) or 0.0)
    except Exception:  # unknown (e.g. local) model: no price
        return 0.0


async def _run_job(job: Job, cfg: GeneratorConfig, client: Any, limiter: RateLimiter, sem: asyncio.Semaphore,
                   report: GenerationReport) -> list[dict[str, Any]] | None:
    from instructor.core import InstructorRetryException

    transient = _transient_errors()
    rng = random.Random(f"job:{cfg.seed}:{job.index}")
    async with sem:
        for attempt in range(cfg.max_attempts):
            model = cfg.models[(job.index + attempt) % len(cfg.models)]
            usage = report.usage.setdefault(model, ModelUsage())
            await limiter.acquire()
            usage.requests += 1
            try:
                batch, raw = await asyncio.wait_for(client.chat.completions.create_with_completion(
                    model=model, messages=messages_for(job, cfg.seed), response_model=GeneratedBatch,
                    max_retries=cfg.validation_retries, temperature=cfg.temperature, max_tokens=cfg.max_tokens,
                    api_base=cfg.base_url, api_key=cfg.api_key or "not-needed", timeout=cfg.timeout_s,
                ), timeout=cfg.timeout_s * (cfg.validation_retries + 1) + 5)
            except InstructorRetryException as e:
                usage.failures += 1
                _count_usage(e, usage)
                cause = e.__cause__ or e.__context__
                if isinstance(cause, transient) or "Connection error" in str(e):
                    report.errors["transport: " + type(cause).__name__] += 1
                    await asyncio.sleep(cfg.backoff_s * 2**attempt * (0.5 + rng.random()))
                else:
                    report.errors["invalid structured output"] += 1
                continue  # either way the next attempt goes to the next model
            except transient as e:
                usage.failures += 1
                report.errors[type(e).__name__] += 1
                await asyncio.sleep(cfg.backoff_s * 2**attempt * (0.5 + rng.random()))
                continue
            pt = getattr(raw.usage, "prompt_tokens", 0) or 0
            ct = getattr(raw.usage, "completion_tokens", 0) or 0
            usage.prompt_tokens += pt
            usage.completion_tokens += ct
            usage.cost_usd += _cost(model, raw, usage, cfg, pt, ct)
            rows = [{"user_query": e.user_query, "output": e.output} for e in batch.examples][: job.size]
            accepted, vrep = await asyncio.to_thread(validate_rows, rows, execute=cfg.execute_code)
            report.validation.merge(vrep)
            return [{**r, "meta": {"job": job.index, "of": len(accepted), "model": model, "intent": job.intent,
                                   "domain": job.domain, "persona": job.persona, "style": job.style}} for r in accepted]
    return None


def _count_usage(exc: Any, usage: ModelUsage) -> None:
    total = getattr(exc, "total_usage", None)
    if total is not None:
        usage.prompt_tokens += getattr(total, "prompt_tokens", 0) or 0
        usage.completion_tokens += getattr(total, "completion_tokens", 0) or 0


async def generate_async(cfg: GeneratorConfig, out: Path, *, progress: bool = True, client: Any = None) -> GenerationReport:
    """Run (or resume) the plan, appending accepted rows to `out` as each job finishes."""
    import os

    if not cfg.models:
        raise ValueError("no models configured: pass at least one --model (a litellm model name)")
    if cfg.batch_size < 1 or cfg.concurrency < 1:
        raise ValueError("batch_size and concurrency must be at least 1")
    if client is None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch of the price table
        import instructor
        import litellm

        litellm.suppress_debug_info = True
        client = instructor.from_litellm(litellm.acompletion, mode=instructor.Mode.TOOLS)
    report = GenerationReport()
    jobs = plan(cfg)
    report.jobs_planned = len(jobs)
    out.parent.mkdir(parents=True, exist_ok=True)
    done, report.torn_rows_dropped = resume_state(out)
    todo = [j for j in jobs if j.index not in done]
    report.jobs_skipped = len(jobs) - len(todo)
    limiter, sem = RateLimiter(cfg.requests_per_minute), asyncio.Semaphore(cfg.concurrency)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), initial=report.jobs_skipped, desc="generate", unit="job")
    with open(out, "a", encoding="utf-8") as f:
        tasks = [asyncio.create_task(_run_job(j, cfg, client, limiter, sem, report)) for j in todo]
        try:
            for fut in asyncio.as_completed(tasks):
                rows = await fut
                if rows is None:
                    report.jobs_failed += 1
                else:
                    report.jobs_done += 1
                    if rows:  # one write per job: a crash tears at most this job, which resume redoes
                        f.write("".join(dumps(r) + "\n" for r in rows))
                        f.flush()
                        os.fsync(f.fileno())
                        report.rows_written += len(rows)
                if bar:
                    bar.update(1)
        finally:
            for t in tasks:
                t.cancel()
            if bar:
                bar.close()
    return report


def generate(cfg: GeneratorConfig, out: Path, *, progress: bool = True) -> GenerationReport:
    return asyncio.run(generate_async(cfg, out, progress=progress))
