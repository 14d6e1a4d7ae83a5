"""What the Helm chart renders, read off ``helm template`` with the helm ``make chart-check``
uses (it builds one first, and validates the schemas). Skipped where there is none yet, except
in CI, where ``make test`` ran chart-check: there a missing helm fails (a fresh clone once
looked in the wrong place and skipped these in silence)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "npo-integration"
HELM = subprocess.run(
    ["bash", str(ROOT / "scripts" / "chart-check.sh"), "--which-helm"],
    capture_output=True,
    text=True,
    check=True,
    timeout=30,
).stdout.strip()

if not HELM and os.environ.get("CI"):
    raise RuntimeError("no helm in CI: make test runs make chart-check, which builds it")
pytestmark = pytest.mark.skipif(not HELM, reason="helm not built yet (make chart-check)")


def documents(*args: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [HELM, "template", "npo", str(CHART), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def render(*args: str) -> dict[str, dict[str, Any]]:
    """The rendered objects by kind (the two Services: see ``documents``)."""
    return {doc["kind"]: doc for doc in documents(*args)}


def production() -> dict[str, dict[str, Any]]:
    return render("-f", str(ROOT / "deploy" / "helm" / "values-production.yaml"))


def env_of(objects: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    [container] = objects["StatefulSet"]["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e for e in container["env"]}


def test_each_pod_has_its_own_volume_and_a_stable_canonical_url() -> None:
    objects = render()
    sts = objects["StatefulSet"]
    assert [t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]] == ["data"]
    services = [o for o in documents() if o["kind"] == "Service"]
    [service] = [s for s in services if s["spec"].get("clusterIP") == "None"]
    assert sts["spec"]["serviceName"] == service["metadata"]["name"]
    assert service["spec"]["publishNotReadyAddresses"] is True
    env = env_of(objects)
    assert env["NPO_WEB_CANONICAL_URL"]["value"].startswith(
        f"http://$(POD_NAME).{service['metadata']['name']}.$(POD_NAMESPACE).svc."
    )
    assert env["NPO_DATA_DIR"]["value"] == "/data"


def test_liveness_does_not_depend_on_table_recovery_and_readiness_is_health() -> None:
    [container] = render()["StatefulSet"]["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/metrics"
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300


def test_secrets_come_from_kubernetes_secrets_only() -> None:
    env = env_of(production())
    for name in ("NPO_SECRETS_KEYS", "NPO_ADMIN_TOKEN", "NPO_KAFKA_SASL_PASSWORD"):
        assert "secretKeyRef" in env[name]["valueFrom"], name
        assert "value" not in env[name]
    assert env["NPO_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    assert env["NPO_KAFKA_SSL_CA_FILE"]["value"].startswith("/etc/npo/kafka-tls/")


def test_standby_replicas_are_on_and_a_disruption_takes_one_worker_at_a_time() -> None:
    objects = render()
    assert env_of(objects)["NPO_TABLE_STANDBY_REPLICAS"]["value"] == "1"
    assert objects["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1


def test_the_service_monitor_is_optional_and_the_dashboard_is_json() -> None:
    import json

    assert "ServiceMonitor" not in render()
    monitor = production()["ServiceMonitor"]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    dashboard = json.loads(render()["ConfigMap"]["data"]["npo-integration.json"])
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert any("npo_pulls_total" in e for e in exprs)
