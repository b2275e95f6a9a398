"""Dashboards and alerts against a real Prometheus (Debian `prometheus`) scraping a real router.

The test starts Prometheus on loopback with the compose scrape config pointed at the session's live
`router serve`, loads every dashboard query through Prometheus's query API (a parse error is a 400),
checks every metric a query names is one the router's /metrics exports, and runs promtool on the rules.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time

import httpx
import pytest
import yaml

from observability import dashboards
from tests.conftest import REPO, free_port
from tests.conftest import start_process

OBS = REPO / "observability"
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
APT_HINT = "install it with: apt-get install -y prometheus"


def exported_series(metrics_text: str) -> set[str]:
    """Every series name a /metrics page can carry, from its `# TYPE` lines (children or not)."""
    suffixes = {"counter": ["_total", "_created"], "histogram": ["_bucket", "_sum", "_count", "_created"],
                "gauge": [""], "summary": ["", "_sum", "_count", "_created"], "info": ["_info"]}  # fmt: skip
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", metrics_text, re.MULTILINE):
        base = name.removesuffix("_total") if kind == "counter" else name
        names.update(base + suffix for suffix in suffixes.get(kind, [""]))
    return names


def metrics_in(expr: str) -> set[str]:
    return set(re.findall(r"\b(router_[a-z0-9_]+)", expr)) | ({"up"} if re.search(r"\bup\{", expr) else set())


def all_queries() -> list[tuple[str, str]]:
    board = json.loads((OBS / "grafana" / "dashboards" / "router.json").read_text())
    return [(panel["title"], target["expr"]) for panel in board["panels"] for target in panel["targets"]]


@pytest.fixture(scope="module")
def prometheus(live_server, tmp_path_factory):
    assert PROMETHEUS, f"the prometheus binary is missing; {APT_HINT}"
    work = tmp_path_factory.mktemp("prometheus")
    config = yaml.safe_load((OBS / "prometheus" / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = config["global"]["evaluation_interval"] = "1s"
    config["rule_files"] = [str(OBS / "prometheus" / "alerts.yml")]
    config["scrape_configs"][0]["static_configs"][0]["targets"] = [live_server.url.removeprefix("http://")]
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [PROMETHEUS, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
               f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    process = start_process(command, f"{url}/-/ready", work / "prometheus.log", timeout=60)
    yield url
    process.terminate()
    process.wait(timeout=30)


def test_dashboard_json_is_generated_from_code():
    committed = (OBS / "grafana" / "dashboards" / "router.json").read_text()
    assert committed == dashboards.render(), "run: uv run python -m observability.dashboards"


def test_dashboard_covers_what_operators_need():
    titles = {panel.title for panel in dashboards.PANELS}
    needed = {"Route latency", "Time to first token", "Tokens per second", "Decisions by tool", "Error rate",
              "Rejections", "Queue depth", "Grammar compile time", "Traffic by adapter"}  # fmt: skip
    assert needed <= titles
    latency = next(panel for panel in dashboards.PANELS if panel.title == "Route latency")
    assert sorted(latency.queries) == ["p50", "p95", "p99"]


def test_every_query_parses_in_a_real_prometheus(prometheus):
    for title, expr in all_queries():
        response = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", f"{title}: {expr}\n{body}"
    # a broken query is refused, so the check above can fail
    bad = httpx.get(f"{prometheus}/api/v1/query", params={"query": "sum(rate(router_x[5m]"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["errorType"] == "bad_data"


def test_every_metric_a_panel_or_alert_uses_is_exported(live_server):
    exported = exported_series(httpx.get(f"{live_server.url}/metrics", timeout=10).text) | {"up"}
    used = {(title, name) for title, expr in all_queries() for name in metrics_in(expr)}
    rules = yaml.safe_load((OBS / "prometheus" / "alerts.yml").read_text())
    used |= {(rule["alert"], name) for group in rules["groups"] for rule in group["rules"]
             for name in metrics_in(rule["expr"])}  # fmt: skip
    missing = sorted(f"{where}: {name}" for where, name in used if name not in exported)
    assert not missing, "metrics not exported by the router:\n" + "\n".join(missing)
    assert len({name for _, name in used}) >= 12


def test_prometheus_scrapes_the_router_with_the_compose_config(prometheus):
    deadline = time.monotonic() + 30
    while True:
        result = httpx.get(
            f"{prometheus}/api/v1/query", params={"query": 'router_ready * on(instance) up{job="router"}'}
        )
        samples = result.json()["data"]["result"]
        if samples:
            break
        assert time.monotonic() < deadline, "prometheus never scraped the router"
        time.sleep(0.5)
    assert float(samples[0]["value"][1]) == 1.0
    rules = httpx.get(f"{prometheus}/api/v1/rules").json()["data"]["groups"][0]["rules"]
    assert {rule["name"] for rule in rules} >= {
        "RouterLatencySLOBreached",
        "RouterHighErrorRate",
        "RouterNotReady",
    }
    assert all(rule["health"] != "err" for rule in rules)


def test_promtool_checks_and_unit_tests_the_alerts():
    assert PROMTOOL, f"promtool is missing; {APT_HINT}"
    for args in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"],
                 ["check", "config", "prometheus.yml"]):  # fmt: skip
        run = subprocess.run([PROMTOOL, *args], cwd=OBS / "prometheus", capture_output=True, text=True)
        if args[1] == "config":  # the compose path of the rules file does not exist here
            assert "/etc/prometheus/alerts.yml" in run.stdout + run.stderr
            continue
        assert run.returncode == 0, run.stdout + run.stderr
        assert "SUCCESS" in run.stdout + run.stderr
