"""The Dockerfile cannot be built here; at least its entry point must name a
real command of this package."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _instruction(name: str) -> list[str]:
    match = re.search(rf"^{name}\s+(\[.*\])\s*$", (ROOT / "Dockerfile").read_text(), re.M)
    assert match, f"Dockerfile has no exec-form {name}"
    return json.loads(match[1])


def test_entrypoint_is_a_console_script_of_this_package() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    [command] = _instruction("ENTRYPOINT")
    assert command in scripts
    module, _, function = scripts[command].partition(":")
    assert callable(getattr(__import__(module, fromlist=[function]), function))


def test_the_default_command_is_a_command_that_entry_point_accepts() -> None:
    args = _instruction("CMD")
    result = subprocess.run(
        [sys.executable, "-m", "npo_integration.cli", args[0], "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_the_image_runs_as_a_non_root_user() -> None:
    users = re.findall(r"^USER\s+(\S+)", (ROOT / "Dockerfile").read_text(), re.M)
    assert users and users[-1] not in ("root", "0")
