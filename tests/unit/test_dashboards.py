"""The Grafana dashboard and the Prometheus alert rules in deploy/ name only metrics that
/metrics serves, and they cover the NPO call and pull latencies and Faust's own figures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from npo_integration import metrics

yaml = pytest.importorskip("yaml")

FILES = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "npo-integration" / "files"
DASHBOARD = json.loads((FILES / "dashboard.json").read_text())
RULES = yaml.safe_load((FILES / "alerts.yml").read_text())
PROMETHEUS_OWN = {"up"}
"""Series Prometheus itself records for each target."""
_SUFFIXES = {"histogram": ("_bucket", "_count", "_sum"), "summary": ("_count", "_sum")}


def served() -> set[str]:
    """Every series name ``GET /metrics`` can answer with (the view serves this registry), with
    or without samples yet."""
    from npo_integration.app import app  # noqa: F401  (registers every metric and collector)

    names: set[str] = set()
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            names.update(name + suffix for suffix in _SUFFIXES.get(kind, ("",)))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names in a PromQL expression: label matchers and strings left out."""
    bare = re.sub(r'"[^"]*"', "", expr)
    bare = re.sub(r"\{[^}]*\}", "", bare)
    bare = re.sub(r"\b(by|without)\s*\([^)]*\)", "", bare)  # grouping labels
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    names = set(re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()", bare))
    return {n for n in names if n.startswith("npo_") or n in PROMETHEUS_OWN}


DASHBOARD_EXPRS = [t["expr"] for panel in DASHBOARD["panels"] for t in panel["targets"]]
RULE_EXPRS = [rule["expr"] for group in RULES["groups"] for rule in group["rules"]]


def test_the_expression_parser_finds_metric_names_only() -> None:
    expr = 'histogram_quantile(0.95, sum by (le, npo_x) (rate(npo_a_bucket{status=~"5xx"}[5m])))'
    assert metric_names(expr) == {"npo_a_bucket"}
    assert metric_names('count(up{job=~".*npo-integration.*"} == 1)') == {"up"}


@pytest.mark.parametrize(
    ("where", "exprs"), [("dashboard", DASHBOARD_EXPRS), ("alert rules", RULE_EXPRS)]
)
def test_every_metric_named_is_served(where: str, exprs: list[str]) -> None:
    known = served() | PROMETHEUS_OWN
    unknown = {name: e for e in exprs for name in metric_names(e) if name not in known}
    assert unknown == {}, f"{where} name metrics /metrics does not serve"


def test_latencies_and_faust_figures_are_on_the_dashboard_and_alerted() -> None:
    wanted = {
        "npo_http_request_seconds_bucket",
        "npo_pull_seconds_bucket",
        "npo_kafka_consumer_lag",
        "npo_kafka_commit_seconds_bucket",
        "npo_kafka_rebalances_total",
    }
    on_dashboard = set().union(*map(metric_names, DASHBOARD_EXPRS))
    alerted = set().union(*map(metric_names, RULE_EXPRS))
    assert wanted <= on_dashboard
    assert {"npo_kafka_consumer_lag", "npo_http_request_seconds_bucket"} <= alerted


def test_each_rule_is_named_timed_and_has_a_severity() -> None:
    rules = [rule for group in RULES["groups"] for rule in group["rules"]]
    assert len({rule["alert"] for rule in rules}) == len(rules)
    assert all(rule["labels"]["severity"] in {"info", "warning", "critical"} for rule in rules)
    assert all(rule["annotations"]["summary"] for rule in rules)


def test_dashboard_panels_have_unique_ids() -> None:
    ids = [panel["id"] for panel in DASHBOARD["panels"]]
    assert len(set(ids)) == len(ids)
