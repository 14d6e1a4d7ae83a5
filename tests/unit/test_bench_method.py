"""How the benchmarks measure (bench/ is a folder of scripts): the ingestion figures are held
against the plain loop run around them, and no measurement starts while the broker still has a
deleted deployment's files to remove."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from harness import _deleting  # noqa: E402  (bench/ is a folder of scripts, not a package)
from ingest import paired  # noqa: E402


def test_a_deleted_partitions_directory_counts_until_the_broker_removes_it(tmp_path: Path) -> None:
    logs = tmp_path / "log-dirs"
    (logs / "bench-x.offerings-0").mkdir(parents=True)
    assert not _deleting([str(logs)])
    gone = logs / "bench-x.offerings-1.5f1c3a9b2d4e4f0a8c6b7d9e1f2a3b4c-delete"
    gone.mkdir()
    assert _deleting([str(tmp_path / "elsewhere"), str(logs)])
    gone.rmdir()
    assert not _deleting([str(logs)])


def test_a_broker_whose_log_directories_are_not_on_this_machine_is_not_waited_for(
    tmp_path: Path,
) -> None:
    assert not _deleting([str(tmp_path / "not-here")])


def test_paired_shows_the_repeat_with_the_best_ratio_against_its_own_baseline() -> None:
    runs = [
        {"new": 18_000.0, "plain around new": 40_000.0},  # fast machine, ratio 0.45
        {"new": 15_000.0, "plain around new": 25_000.0},  # slow machine, ratio 0.60
    ]
    rate, baseline, ratios = paired(runs, "new", "plain around new")
    assert (rate, baseline) == (15_000.0, 25_000.0)
    assert ratios == "0.450, 0.600"
