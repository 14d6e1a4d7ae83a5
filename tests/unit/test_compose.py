"""docker-compose.yml cannot be run here (no Docker engine): its properties are read off the file.

Host clients read the topics at 127.0.0.1:19092, every service reports its health, each worker
keeps its tables on its own named volume, two workers share the partitions, and Prometheus
scrapes every worker's /metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def _workers(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("build") == "." and "NPO_BROKER_URL" in service.get("environment", {})
    }


def _listeners(setting: str) -> dict[str, str]:
    """``NAME://host:port,...`` as {NAME: host:port}."""
    return dict(item.split("://", 1) for item in setting.split(","))


def test_host_clients_reach_the_broker_at_127_0_0_1_19092() -> None:
    kafka = _compose()["services"]["kafka"]
    env = kafka["environment"]
    advertised = _listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    bound = _listeners(env["KAFKA_LISTENERS"])
    [host_listener] = [name for name, address in advertised.items() if address == "127.0.0.1:19092"]
    assert bound[host_listener].endswith(":19092")
    assert any(p.endswith("19092:19092") for p in kafka["ports"])
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert protocols[host_listener] == "PLAINTEXT"  # what kcat and the README's command speak
    # The containers use the other advertised listener, by its service name.
    internal = {name: a for name, a in advertised.items() if name != host_listener}
    for worker in _workers(_compose()).values():
        broker = worker["environment"]["NPO_BROKER_URL"].removeprefix("kafka://")
        assert broker in internal.values()


def test_the_readme_reads_the_offerings_topic_from_the_host() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "kcat -b 127.0.0.1:19092 -t spotlight.npo-offerings -C" in readme


@pytest.mark.parametrize("service", ["kafka", "sandbox", "worker-1", "worker-2"])
def test_the_broker_simulator_and_workers_have_health_checks(service: str) -> None:
    check = _compose()["services"][service]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1


def test_workers_start_once_the_broker_and_simulator_are_healthy() -> None:
    for worker in _workers(_compose()).values():
        conditions = {name: dep["condition"] for name, dep in worker["depends_on"].items()}
        assert conditions == {"kafka": "service_healthy", "sandbox": "service_healthy"}


def test_two_workers_each_with_its_own_named_data_volume_and_canonical_url() -> None:
    compose = _compose()
    workers = _workers(compose)
    assert len(workers) == 2
    volumes: list[str] = []
    for name, worker in workers.items():
        env = worker["environment"]
        data_dir = env.get("NPO_DATA_DIR", "/home/npo/data")  # the image's default
        [volume] = [v.split(":")[0] for v in worker["volumes"] if v.split(":")[1] == data_dir]
        assert volume in compose["volumes"], f"{name}: {volume} is not a named volume"
        volumes.append(volume)
        assert env["NPO_WEB_CANONICAL_URL"] == f"http://{name}:6066"
    assert len(set(volumes)) == 2


def test_prometheus_scrapes_every_worker_s_metrics() -> None:
    compose = _compose()
    prometheus = compose["services"]["prometheus"]
    [mount] = [v for v in prometheus["volumes"] if v.startswith("./deploy/prometheus.yml:")]
    config = yaml.safe_load((ROOT / mount.split(":")[0]).read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        if job.get("metrics_path", "/metrics") == "/metrics"
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert targets == {f"{name}:6066" for name in _workers(compose)}
