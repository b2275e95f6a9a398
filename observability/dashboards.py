"""The Grafana dashboard, generated from code: `python -m observability.dashboards` rewrites the JSON.

Panels are data (title, PromQL, unit); the JSON Grafana provisions is derived from them, and a test
checks the committed file matches, loads every query into a real Prometheus, and checks each metric a
query names is one the service exports.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

OUT = Path(__file__).parent / "grafana" / "dashboards" / "router.json"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
ROUTE = 'endpoint="/route"'


@dataclass(frozen=True)
class Panel:
    title: str
    queries: dict[str, str]
    """Legend -> PromQL."""
    unit: str = "short"
    kind: str = "timeseries"


def _quantiles(metric: str, selector: str = "") -> dict[str, str]:
    inner = f"{metric}_bucket{{{selector}}}" if selector else f"{metric}_bucket"
    return {
        f"p{q}": f"histogram_quantile(0.{q}, sum by (le) (rate({inner}[5m])))" for q in ("50", "95", "99")
    }


PANELS: list[Panel] = [
    Panel("Route latency", _quantiles("router_http_request_duration_seconds", ROUTE), "s"),
    Panel("Time to first token", _quantiles("router_time_to_first_token_seconds"), "s"),
    Panel(
        "Tokens per second",
        {
            "generated": "sum(rate(router_completion_tokens_total[1m]))",
            "forced by grammar": "sum(rate(router_forced_tokens_total[1m]))",
            "prompt": "sum(rate(router_prompt_tokens_total[1m]))",
        },
        "short",
    ),
    Panel("Decisions by tool", {"{{tool}}": "sum by (tool) (rate(router_decisions_total[5m]))"}, "reqps"),
    Panel(
        "Error rate",
        {
            "HTTP 5xx": 'sum(rate(router_http_requests_total{status=~"5.."}[5m])) '
            "/ clamp_min(sum(rate(router_http_requests_total[5m])), 1e-9)",
            "engine errors": "sum(rate(router_engine_errors_total[5m])) / clamp_min("
            "sum(rate(router_decisions_total[5m])) + sum(rate(router_engine_errors_total[5m])), 1e-9)",
        },
        "percentunit",
    ),
    Panel(
        "Rejections",
        {
            "admission {{reason}}": "sum by (reason) (rate(router_admission_rejections_total[5m]))",
            "auth {{reason}}": "sum by (reason) (rate(router_auth_rejections_total[5m]))",
            "HTTP 4xx": 'sum(rate(router_http_requests_total{status=~"4.."}[5m]))',
        },
        "reqps",
    ),
    Panel(
        "Queue depth",
        {"waiting": "sum(router_queue_depth)", "in flight": "sum(router_engine_in_flight)"},
        "short",
    ),
    Panel("Queue wait", _quantiles("router_queue_wait_seconds"), "s"),
    Panel("Grammar compile time", _quantiles("router_grammar_compile_seconds"), "s"),
    Panel(
        "Traffic by adapter",
        {"{{adapter}}": "sum by (adapter) (rate(router_adapter_requests_total[5m]))"},
        "reqps",
    ),
    Panel(
        "Engine time by phase",
        {
            "{{phase}} p95": "histogram_quantile(0.95, sum by (le, phase) "
            "(rate(router_engine_seconds_bucket[5m])))"
        },
        "s",
    ),
    Panel(
        "Ready replicas", {"ready": "sum(router_ready)", "scraped": 'sum(up{job="router"})'}, "short", "stat"
    ),
]


def panel_json(panel: Panel, index: int) -> dict:
    width, height = 12, 8
    return {
        "id": index + 1,
        "type": panel.kind,
        "title": panel.title,
        "datasource": DATASOURCE,
        "gridPos": {"x": (index % 2) * width, "y": (index // 2) * height, "w": width, "h": height},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}}
        if panel.kind == "timeseries"
        else {},
        "targets": [
            {"refId": chr(ord("A") + n), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
            for n, (legend, expr) in enumerate(panel.queries.items())
        ],
    }


def dashboard() -> dict:
    return {
        "uid": "agent-router",
        "title": "Agent router",
        "tags": ["agent-router"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": []},
        "panels": [panel_json(panel, index) for index, panel in enumerate(PANELS)],
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    sys.stdout.write(f"wrote {OUT} ({len(PANELS)} panels)\n")
