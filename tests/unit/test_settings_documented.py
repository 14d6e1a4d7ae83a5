"""Every setting is in the README's table, and bad settings fail with
one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_a_short_admin_token_stops_the_worker_with_one_line_naming_it() -> None:
    from cryptography.fernet import Fernet

    result = _start_worker_with(
        NPO_ADMIN_TOKEN="admin-secret", NPO_SECRETS_KEYS=Fernet.generate_key().decode()
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "npo-integration: invalid setting NPO_ADMIN_TOKEN: must be at least 32 characters, got 12 "
        "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    ]
    assert "admin-secret" not in result.stderr + result.stdout


def _with_admin_token(value: str) -> Settings:
    from cryptography.fernet import Fernet

    return Settings(secrets_keys=Fernet.generate_key().decode(), admin_token=value)  # type: ignore[arg-type]


def test_an_empty_admin_token_disables_the_admin_api() -> None:
    """``NPO_ADMIN_TOKEN=`` (as a compose file sets it) is unset: no token ``Bearer `` matches."""
    assert _with_admin_token("").admin_token is None


def test_an_admin_token_must_be_sendable_in_a_header() -> None:
    from pydantic import ValidationError

    long_enough = "x" * 40
    assert _with_admin_token(long_enough).admin_token is not None
    for bad in (long_enough + " y", long_enough + "\n", long_enough + "é"):
        with pytest.raises(ValidationError, match="printable ASCII without spaces"):
            _with_admin_token(bad)
