"""A data directory's table stores against the cluster a worker runs against (local_state.py), and
``npo-integration reset-local-state``: real RocksDB stores in a temporary directory, no broker."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from rocksdict import Options, Rdict

from npo_integration import local_state
from npo_integration.local_state import DataDirOwner

ROOT = Path(__file__).resolve().parents[2]
CHANGELOGS = {"pull-state": "app-pull-state-changelog", "npo-configs": "app-npo-configs-changelog"}


def make_store(data_dir: Path, name: str, offset: int | None) -> Path:
    """A partition store as Faust's RocksDB store writes it (raw keys, the offset as text)."""
    path = data_dir / "v1" / "tables" / name
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    db = Rdict(str(path), options=options)
    db.put(b"some-key", b"some-value")
    if offset is not None:
        db.put(local_state.OFFSET_KEY, str(offset).encode())
    db.close()
    return path


def ends(offsets: dict[tuple[str, int], int]) -> local_state.EndOffsets:
    async def end_offsets(partitions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        return {tp: offsets.get(tp, 0) for tp in partitions}

    return end_offsets


async def verdict(
    data_dir: Path,
    end_offsets: dict[tuple[str, int], int],
    *,
    cluster_id: str = "cluster-B",
    reset: bool = False,
) -> local_state.Verdict:
    return await local_state.check(
        data_dir,
        cluster_id=cluster_id,
        broker="kafka://127.0.0.1:19092",
        changelogs=CHANGELOGS,
        end_offsets=ends(end_offsets),
        reset_on_cluster_change=reset,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    make_store(path, "pull-state-3.db", 7)
    make_store(path, "npo-configs-0.db", 2)
    (path / "v1" / "tables" / "pull-state-backups").mkdir()
    return path


def record(data_dir: Path, cluster_id: str) -> None:
    local_state.write_owner(
        data_dir, DataDirOwner(cluster_id=cluster_id, broker_url="kafka://127.0.0.1:19092")
    )


def test_the_persisted_offset_is_read_from_a_store(data_dir: Path) -> None:
    assert local_state.persisted_offset(data_dir / "v1/tables/pull-state-3.db") == 7
    assert local_state.persisted_offset(data_dir / "v1/tables/no-such-0.db") is None


async def test_a_new_directory_or_one_without_stores_goes_on(tmp_path: Path) -> None:
    assert (await verdict(tmp_path / "new", {})).reason is None


async def test_stores_behind_their_changelogs_go_on(data_dir: Path) -> None:
    record(data_dir, "cluster-B")
    found = await verdict(
        data_dir, {("app-pull-state-changelog", 3): 8, ("app-npo-configs-changelog", 0): 3}
    )
    assert found.reason is None and found.stop_line is None


async def test_stores_of_another_cluster_stop_the_worker_with_one_line(data_dir: Path) -> None:
    record(data_dir, "cluster-A")
    found = await verdict(data_dir, {("app-pull-state-changelog", 3): 100})
    assert found.stop_line == (
        f"npo-integration: data directory {data_dir} holds table state of Kafka cluster cluster-A "
        "(kafka://127.0.0.1:19092), but the broker at kafka://127.0.0.1:19092 is cluster "
        "cluster-B; to rebuild the tables from this cluster's changelogs, stop every worker on "
        f"{data_dir} and run: npo-integration reset-local-state --data-dir {data_dir} "
        "(docs/operations.md#local-table-state)"
    )
    assert "\n" not in found.stop_line


async def test_the_setting_resets_stores_of_another_cluster(data_dir: Path) -> None:
    record(data_dir, "cluster-A")
    found = await verdict(data_dir, {}, reset=True)
    assert found.reset and found.stop_line is None
    assert found.reason is not None and "cluster-A" in found.reason


async def test_stores_past_their_changelog_on_the_same_cluster_always_stop(data_dir: Path) -> None:
    """The recorded cluster is this one: the changelog lost data (a broker restored from a
    backup), so the setting does not apply: an operator decides."""
    record(data_dir, "cluster-B")
    found = await verdict(
        data_dir,
        {("app-pull-state-changelog", 3): 7, ("app-npo-configs-changelog", 0): 3},
        reset=True,
    )
    assert not found.reset
    assert found.stop_line is not None
    assert (
        "holds table state of Kafka cluster cluster-B up to offset 7 of "
        "app-pull-state-changelog[3], but that changelog ends at offset 7 on cluster cluster-B"
    ) in found.stop_line
    assert f"npo-integration reset-local-state --data-dir {data_dir}" in found.stop_line


async def test_unrecorded_stores_past_their_changelogs_count_as_another_cluster(
    data_dir: Path,
) -> None:
    """A directory from before the cluster was recorded, on a reset broker (empty changelogs)."""
    stopped = await verdict(data_dir, {})
    assert stopped.stop_line is not None
    assert "an unrecorded Kafka cluster (no cluster.json)" in stopped.stop_line
    assert "and 1 more store(s)" in stopped.stop_line
    assert (await verdict(data_dir, {}, reset=True)).reset


async def test_stores_of_tables_the_app_does_not_have_are_left_to_faust(data_dir: Path) -> None:
    make_store(data_dir, "gone-table-0.db", 50)
    found = await verdict(
        data_dir, {("app-pull-state-changelog", 3): 8, ("app-npo-configs-changelog", 0): 3}
    )
    assert found.reason is None


def test_removing_the_stores_leaves_every_other_file(data_dir: Path) -> None:
    record(data_dir, "cluster-A")
    held = local_state.lock(data_dir)
    os.close(held)
    (data_dir / "v1" / "notes.txt").write_text("not a store")
    removed = local_state.remove_table_stores(data_dir)
    tables = data_dir / "v1" / "tables"
    assert removed == [
        tables / "npo-configs-0.db",
        tables / "pull-state-3.db",
        tables / "pull-state-backups",
        data_dir / "cluster.json",
    ]
    left = sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*"))
    assert left == ["v1", "v1/notes.txt", "v1/tables", "worker.lock"]


@pytest.fixture
def held(data_dir: Path) -> Iterator[int]:
    fd = local_state.lock(data_dir)
    try:
        yield fd
    finally:
        os.close(fd)


def test_a_locked_directory_is_refused_with_the_holder_s_pid(data_dir: Path, held: int) -> None:
    with pytest.raises(
        local_state.DataDirInUse, match=rf"in use by a running worker \(pid {os.getpid()}\)"
    ):
        local_state.lock(data_dir)


def run_reset(*args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NPO_")}
    return subprocess.run(
        [sys.executable, "-m", "npo_integration.cli", "reset-local-state", *args],
        env=clean,  # no secrets key, no broker: the command needs neither
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_reset_local_state_refuses_while_a_worker_holds_the_directory(
    data_dir: Path, held: int
) -> None:
    result = run_reset("--data-dir", str(data_dir))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"npo-integration reset-local-state: data directory {data_dir} is in use by a running "
        f"worker (pid {os.getpid()}); stop it first"
    ]
    assert local_state.table_stores(data_dir) != []


def test_reset_local_state_removes_the_stores_and_says_which(data_dir: Path) -> None:
    result = run_reset("--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    tables = data_dir / "v1" / "tables"
    assert result.stdout.splitlines() == [
        f"removed {tables / 'npo-configs-0.db'}",
        f"removed {tables / 'pull-state-3.db'}",
        f"removed {tables / 'pull-state-backups'}",
        f"{data_dir}: table state removed; the next start rebuilds it from the changelogs",
    ]
    assert local_state.table_stores(data_dir) == []
    again = run_reset("--data-dir", str(data_dir))
    assert again.stdout.splitlines() == [f"{data_dir}: no table state to remove"]


def test_reset_local_state_of_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    result = run_reset("--data-dir", str(tmp_path / "typo"))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"npo-integration reset-local-state: no data directory at {tmp_path / 'typo'}"
    ]
    assert not (tmp_path / "typo").exists()
