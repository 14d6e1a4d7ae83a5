"""``npo-integration`` in a clean environment: every command's help works with no secret, no
admin token and no broker; a failure is one line, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
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
    return cli_process("-m", "npo_integration.cli", *args, **env)


def cli_process(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python ARGV`` in the clean environment ``cli`` runs in."""
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, *argv],
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


WALK_HELP = """
import contextlib, io, json, sys
from npo_integration.cli.main import main

answers = []
for path in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    sys.argv = ["npo-integration", *path, "--help"]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main()
            code = 0
        except SystemExit as exit:
            code = exit.code or 0
    answers.append({"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()})
print(json.dumps(answers))
"""
"""Every command's ``--help`` through the command's own entry point (``cli.main.main``), all in
one clean process: one process per command took half a minute of the suite."""


def test_every_commands_help_works_without_any_setting() -> None:
    walk = cli_process("-c", WALK_HELP, json.dumps(ALL_COMMANDS))
    assert walk.returncode == 0 and walk.stderr == "", walk.stderr
    answers = json.loads(walk.stdout)
    for path, answer in zip(ALL_COMMANDS, answers, strict=True):
        shown = " ".join(("npo-integration", *path))
        assert answer["code"] == 0, (shown, answer["stderr"])
        assert answer["stdout"].startswith(f"Usage: {shown} "), (shown, answer["stdout"][:200])
        assert answer["stderr"] == "", (shown, answer["stderr"])
        too_wide = [line for line in answer["stdout"].splitlines() if len(line) > 80]
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
