"""``npo-integration`` in a clean environment: every command's help works with no secret, no
admin token and no broker; a failure is one line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import pytest

from npo_integration.cli.main import root_command

ROOT = Path(__file__).resolve().parents[3]


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and group under ``group``, found by walking the parser."""
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))


ALL_COMMANDS = [(), *command_paths(root_command())]


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``npo-integration ARGS`` with nothing of the service's environment: no NPO_* variable."""
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-m", "npo_integration.cli", *args],
        env=clean,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_walk_finds_the_worker_and_every_operator_command() -> None:
    found = {" ".join(path) for path in ALL_COMMANDS}
    assert {"worker", "npos", "npos add", "npos removals confirm", "enrolments list"} <= found
    assert {"fetch", "ingest unprocessed", "candidates erase"} <= found


def test_every_commands_help_works_without_any_setting() -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda path: cli(*path, "--help"), ALL_COMMANDS))
    for path, result in zip(ALL_COMMANDS, results, strict=True):
        shown = " ".join(("npo-integration", *path))
        assert result.returncode == 0, (shown, result.stderr)
        assert result.stdout.startswith(f"Usage: {shown} "), (shown, result.stdout[:200])
        assert result.stderr == "", (shown, result.stderr)
        too_wide = [line for line in result.stdout.splitlines() if len(line) > 80]
        assert too_wide == [], shown


def test_no_arguments_shows_the_help() -> None:
    result = cli()
    assert result.returncode == 0 and result.stdout.startswith("Usage: npo-integration ")


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    return line


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    line = one_line(cli("npos", "add", str(tmp_path / "nope.json")))
    assert line.startswith("npo-integration npos add: Invalid value for 'FILE'")
    assert "does not exist" in line


def test_a_file_that_is_not_json_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"npo_id": 3')
    line = one_line(cli("npos", "add", str(bad)))
    assert line.startswith(f"npo-integration npos add: {bad}: invalid JSON at line 1 column 13")


@pytest.mark.parametrize(
    "args",
    [("npos", "list"), ("enrolments", "list", "some-npo"), ("fetch", "some-npo")],
    ids=lambda args: " ".join(args),
)
def test_an_unreachable_admin_api_is_one_line(args: tuple[str, ...]) -> None:
    token = "t" * 32
    line = one_line(cli(*args, NPO_ADMIN_URL="http://127.0.0.1:9", NPO_ADMIN_TOKEN=token))
    assert line.endswith("no worker answers at http://127.0.0.1:9 (set NPO_ADMIN_URL)")
    assert token not in line


def test_a_missing_admin_token_is_one_line() -> None:
    assert one_line(cli("ingest", "unprocessed", "some-npo")).endswith("NPO_ADMIN_TOKEN is not set")


def test_an_unknown_option_is_one_line() -> None:
    line = one_line(cli("enrolments", "list", "--bogus"))
    assert line == "npo-integration enrolments list: No such option: --bogus (see --help)"


def test_an_unknown_command_is_one_line_naming_it() -> None:
    line = one_line(cli("enrol"))
    assert line == "npo-integration: No such command 'enrol' (see --help)"
