"""The deployment files: Kubernetes manifests are current and valid offline; compose covers every service."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shared.testing.backends import repo_root

ROOT = repo_root()


@pytest.fixture(scope="module")
def validator(tmp_path_factory) -> Path:
    """deploy/k8s/validate built with the Go toolchain: strict decoding into the Kubernetes API types."""
    out = tmp_path_factory.mktemp("k8s") / "validate"
    env = os.environ | {"GOFLAGS": "-mod=mod"}
    build = subprocess.run(
        ["go", "build", "-o", str(out), "."],
        cwd=ROOT / "deploy/k8s/validate",
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert build.returncode == 0, build.stderr
    return out


def test_the_manifests_are_what_the_generator_renders() -> None:
    check = subprocess.run([sys.executable, "deploy/k8s/generate.py", "--check"], cwd=ROOT)
    assert check.returncode == 0, "deploy/k8s/suite.yaml is stale: run python deploy/k8s/generate.py"


def test_the_manifests_are_valid_kubernetes_objects(validator) -> None:
    result = subprocess.run(
        [str(validator), str(ROOT / "deploy/k8s/suite.yaml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert re.match(r"\d+ objects valid", result.stdout)


def test_the_validator_refuses_unknown_fields_and_missing_probes(validator, tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replicaz: 2\n"
        "  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n"
        "    spec: {containers: [{name: x, image: x}]}\n"
    )
    result = subprocess.run([str(validator), str(bad)], capture_output=True, text=True)
    assert result.returncode == 1 and "replicaz" in result.stderr
    bad.write_text(bad.read_text().replace("replicaz", "replicas"))
    result = subprocess.run([str(validator), str(bad)], capture_output=True, text=True)
    assert (
        result.returncode == 1
        and "probes are required" in result.stderr
        and "HorizontalPodAutoscaler" in result.stderr
    )


def test_every_service_is_deployed_everywhere() -> None:
    stack = (ROOT / "deploy/local/stack.sh").read_text()
    local = set(re.search(r"^SERVICES=\(([^)]*)\)", stack, re.M).group(1).split())
    compose = yaml.safe_load((ROOT / "deploy/compose.yaml").read_text())["services"]
    manifests = list(yaml.safe_load_all((ROOT / "deploy/k8s/suite.yaml").read_text()))
    deployments = {d["metadata"]["name"] for d in manifests if d["kind"] == "Deployment"}
    assert local <= set(compose) and local <= deployments
    for name in local:
        assert compose[name]["build"]["args"]["SERVICE"] == name
        assert (ROOT / "services" / name / "src" / name / "__main__.py").is_file()
    for name in ("dispatch", "warranty", "parts", "engineering"):
        # A host-port range: `docker compose up --scale <name>=N` needs a port per replica.
        assert re.fullmatch(r"127\.0\.0\.1:\d+-\d+:\d+", compose[name]["ports"][0])


def test_the_dashboard_charts_only_metrics_the_services_export() -> None:
    import json

    dashboard = json.loads((ROOT / "deploy/grafana/yingde-suite.json").read_text())
    exported = {
        "yingde_events_consumed_total",
        "yingde_events_produced_total",
        "yingde_event_retries_total",
        "yingde_handler_seconds",
        "yingde_http_request_seconds",
        "yingde_consumer_lag",
        "yingde_topic_end_offset",
    }
    used = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used |= {
                re.sub(r"_(bucket|count|sum)$", "", m) for m in re.findall(r"yingde_[a-z_]+", target["expr"])
            }
    assert used and used <= exported, used - exported
    from prometheus_client import REGISTRY

    from operations.adapters import kafka_view  # noqa: F401  (registers the lag gauges)
    from shared import metrics  # noqa: F401  (registers the service metrics)

    names = {m.name for m in REGISTRY.collect()}
    assert {
        "yingde_consumer_lag",
        "yingde_topic_end_offset",
        "yingde_events_consumed",
        "yingde_handler_seconds",
    } <= names


def test_customers_links_in_production_lead_somewhere_reachable() -> None:
    """The QR codes and the activation link are opened on customers' phones: production refuses an address
    on the machine itself, and the manifests set public ones."""
    from intake.config import IntakeSettings

    with pytest.raises(ValueError, match="WARRANTY_ACTIVATION_URL"):
        IntakeSettings(app_env="production", INTAKE_PUBLIC_URL="https://complaints.example.com")
    with pytest.raises(ValueError, match="INTAKE_PUBLIC_URL"):
        IntakeSettings(app_env="production", WARRANTY_ACTIVATION_URL="https://service.example.com/activation")
    manifests = list(yaml.safe_load_all((ROOT / "deploy/k8s/suite.yaml").read_text()))
    config = next(d for d in manifests if d["kind"] == "ConfigMap")["data"]
    settings = IntakeSettings(
        app_env="production",
        INTAKE_PUBLIC_URL=config["INTAKE_PUBLIC_URL"],
        WARRANTY_ACTIVATION_URL=config["WARRANTY_ACTIVATION_URL"],
    )
    assert settings.activation_url.startswith("https://") and settings.activation_url.endswith("/activation")


def test_every_deployment_runs_the_store_as_a_replica_set_with_short_lived_transactions() -> None:
    """Transactions need a replica set; one a killed process left open should end in 10 s, not 60.
    (The native stack's store is checked live by tests/test_store_conformance.py.)"""
    compose = yaml.safe_load((ROOT / "deploy/compose.yaml").read_text())["services"]
    manifests = list(yaml.safe_load_all((ROOT / "deploy/k8s/suite.yaml").read_text()))
    mongo = next(d for d in manifests if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "mongo")
    settings = next(d for d in manifests if d["kind"] == "ConfigMap")["data"]
    for args in (compose["mongo"]["command"], mongo["spec"]["template"]["spec"]["containers"][0]["args"]):
        assert "--replSet" in args and "transactionLifetimeLimitSeconds=10" in args
    for url in (compose["intake"]["environment"]["MONGODB_URL"], settings["MONGODB_URL"]):
        assert "directConnection=true" in url
