"""Every setting is in the README's table, and bad settings fail with
one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from npo_integration.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"`NPO_{name.upper()}`" not in readme]
    assert missing == []


def _start_worker_with(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NPO_")}
    return subprocess.run(
        [sys.executable, "-m", "npo_integration.cli", "worker"],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_broker_url_stops_the_worker_with_one_line_naming_it() -> None:
    from cryptography.fernet import Fernet

    result = _start_worker_with(
        NPO_BROKER_URL="localhost:9092", NPO_SECRETS_KEYS=Fernet.generate_key().decode()
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "npo-integration: invalid setting NPO_BROKER_URL: "
        "scheme must be kafka://, got 'localhost:9092'"
    ]


def test_a_missing_secrets_key_stops_the_worker_with_one_line_naming_it() -> None:
    result = _start_worker_with()
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "npo-integration: invalid setting NPO_SECRETS_KEYS: Field required"
    ]
