"""The production example's fleet (deploy/helm/values-production.yaml) is the largest milestone's
row of docs/deployment.md, written there by bench/deployment_report.py: the example an operator
copies and the page that sizes it cannot drift apart (they once said 5 workers and 7)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from deployment_report import (  # noqa: E402  (bench/ is a folder of scripts, not a package)
    MILESTONES,
    PRODUCTION_VALUES,
    Sizing,
    with_sized_values,
)

SIZED_KEYS = {"replicas", "topicPartitions", "extraEnv", "resources"}


def sizing_row(milestone: str) -> dict[str, str]:
    """The milestone's row of docs/deployment.md's sizing table, by column heading."""
    lines = (ROOT / "docs" / "deployment.md").read_text().splitlines()
    heading = next(i for i, line in enumerate(lines) if line.startswith("| milestone | partitions"))
    names = [cell.strip() for cell in lines[heading].strip("|").split("|")]
    for line in lines[heading + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] == milestone:
            return dict(zip(names, cells, strict=True))
    raise AssertionError(f"no sizing row for {milestone!r} in docs/deployment.md")


def a_sizing(**changes: Any) -> Sizing:
    fields: dict[str, Any] = {
        "milestone": MILESTONES[-1],
        "workers": 9,
        "limit": "pull CPU",
        "cores": 4.0,
        "in_flight": 500.0,
        "fetch": 77,
        "memory_mb": 700.0,
        "disk_gi": 10,
        "broker_partitions": 768,
    }
    return Sizing(**{**fields, **changes})


def test_the_production_values_are_the_largest_milestones_sizing() -> None:
    values = yaml.safe_load(PRODUCTION_VALUES.read_text())
    row = sizing_row(MILESTONES[-1].name)
    assert values["replicas"] == int(row["workers"])
    assert values["topicPartitions"] == int(row["partitions"])
    pulls = re.fullmatch(
        r"[\d,]+ -> (\d+) per worker", row["pulls in flight -> NPO_FETCH_CONCURRENCY"]
    )
    assert pulls is not None
    assert values["extraEnv"]["NPO_FETCH_CONCURRENCY"] == pulls[1]
    assert int(values["extraEnv"]["NPO_HTTP_MAX_CONNECTIONS"]) >= int(pulls[1])
    memory = re.match(r"(\S+) / (\S+) ", row["memory per worker (request / limit)"])
    assert memory is not None
    assert values["resources"]["requests"]["memory"] == memory[1]
    assert values["resources"]["limits"]["memory"] == memory[2]
    disk = int(row["RocksDB disk per worker"].removesuffix(" Gi"))
    assert int(values["persistence"]["size"].removesuffix("Gi")) >= disk


def test_writing_a_sizing_replaces_its_block_and_nothing_else() -> None:
    text = PRODUCTION_VALUES.read_text()
    sizing = a_sizing()
    written = with_sized_values(text, sizing)
    before, after = yaml.safe_load(text), yaml.safe_load(written)
    assert after["replicas"] == 9
    assert after["topicPartitions"] == MILESTONES[-1].partitions
    assert after["extraEnv"] == {"NPO_FETCH_CONCURRENCY": "77", "NPO_HTTP_MAX_CONNECTIONS": "77"}
    assert after["resources"]["requests"]["memory"] == sizing.memory_request == "1152Mi"
    assert after["resources"]["limits"]["memory"] == sizing.memory_limit == "2176Mi"
    assert {k: v for k, v in after.items() if k not in SIZED_KEYS} == {
        k: v for k, v in before.items() if k not in SIZED_KEYS
    }
    assert with_sized_values(written, sizing) == written
    assert with_sized_values(written, a_sizing(workers=3)) != written


@pytest.mark.parametrize(
    "text",
    [
        "replicas: 3\n",
        "# sized: end\n# sized: begin\n",
        "# sized: begin\n# sized: begin\n# sized: end\n",
    ],
    ids=["no-block", "reversed", "two-begins"],
)
def test_a_values_file_without_one_sized_block_is_refused_with_what_to_add(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape("'# sized: begin' ... '# sized: end' block")):
        with_sized_values(text, a_sizing())
