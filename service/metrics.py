"""Prometheus metrics. Each app gets its own registry, so two apps in one process never share counts."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Route latency on 2 CPU cores spans ~50 ms to a few seconds; on a GPU, 10 ms to 1 s.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "router_http_requests_total",
            "HTTP requests by endpoint template, method and status code.",
            ["endpoint", "method", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "router_http_request_duration_seconds",
            "HTTP request latency by endpoint template and status code.",
            ["endpoint", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.decisions = Counter(
            "router_decisions_total",
            "Decisions made, by status and tool (tool is 'none' for direct answers).",
            ["status", "tool"],
            registry=r,
        )
        self.prompt_tokens = Counter("router_prompt_tokens_total", "Prompt tokens processed.", registry=r)
        self.completion_tokens = Counter(
            "router_completion_tokens_total", "Tokens generated, forced ones included.", registry=r
        )
        self.forced_tokens = Counter(
            "router_forced_tokens_total", "Generated tokens the grammar forced (fast-forwarded).", registry=r
        )
        self.engine_seconds = Histogram(
            "router_engine_seconds",
            "Time the engine spent on a request, by phase (prefill, decode).",
            ["phase"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.engine_errors = Counter(
            "router_engine_errors_total", "Requests the engine failed to answer validly.", registry=r
        )
        self.low_confidence_overrides = Counter(
            "router_low_confidence_overrides_total",
            "Decisions replaced by ask_human because the model's confidence was below the threshold.",
            registry=r,
        )
        self.destructive_overrides = Counter(
            "router_destructive_overrides_total",
            "Decisions replaced by ask_human because the request reads as destructive.",
            registry=r,
        )
        self.unnamed_path_overrides = Counter(
            "router_unnamed_path_overrides_total",
            "Decisions replaced by ask_human because file_manager was sent to a path the request never names.",
            registry=r,
        )
        self.repaired_paths = Counter(
            "router_repaired_paths_total",
            "file_manager paths that were a slip on a path the request names; the named path replaced them.",
            registry=r,
        )
        self.path_operations = Counter(
            "router_path_operations_total",
            "file_manager calls that listed a file or read a folder; the operation the path's shape calls for "
            "replaced theirs.",
            registry=r,
        )
        self.rule_modes = Counter(
            "router_rule_modes_total",
            "Unscoped searches whose mode the contract's query-shape rule set instead of the model's.",
            registry=r,
        )
        self.repaired_copies = Counter(
            "router_repaired_copies_total",
            "file_manager writes or patches whose text was a slip of text the request holds; that text replaced it.",
            registry=r,
        )
        self.unseen_context_overrides = Counter(
            "router_unseen_context_overrides_total",
            "Searches, programs or answers replaced by ask_human because the request points at context the router "
            "cannot see.",
            registry=r,
        )
        self.question_cues = Counter(
            "router_question_cues_total",
            "Requests whose question cue ruled choices out before the model decoded (contract/cues.py).",
            ["cue"],
            registry=r,
        )
        self.unnamed_scope_overrides = Counter(
            "router_unnamed_scope_overrides_total",
            "Searches whose file_pattern the request never points at; the pattern was dropped.",
            registry=r,
        )
        self.ready = Gauge("router_ready", "1 when the model is loaded and warmed up.", registry=r)
        # /v1/chat/completions (issue 5)
        self.chat_completions = Counter(
            "router_chat_completions_total",
            "Chat completions served, by mode (router, functions, json, text), streaming and finish reason.",
            ["mode", "stream", "finish_reason"],
            registry=r,
        )
        self.time_to_first_token = Histogram(
            "router_time_to_first_token_seconds",
            "Streamed chat completions: time from the request to the first generated text.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        # Dashboards (issue 7). grammar_compile_seconds: observe on a grammar-cache miss (an engine reports
        # it as Generation.timings["grammar_compile_ms"]); adapter_requests: one per engine request.
        self.grammar_compile_seconds = Histogram(
            "router_grammar_compile_seconds",
            "Time to compile a JSON schema into a grammar (grammar-cache misses only).",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=r,
        )
        self.adapter_requests = Counter(
            "router_adapter_requests_total",
            "Engine requests by LoRA adapter ('base' when none is applied).",
            ["adapter"],
            registry=r,
        )
