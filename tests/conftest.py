"""Settings every test process needs before the app module is imported."""

from __future__ import annotations

import os

import pytest
from cryptography.fernet import Fernet

# Unit tests import the app; give it a throwaway key and keep it off the network.
os.environ.setdefault("NPO_SECRETS_KEYS", Fernet.generate_key().decode())
os.environ.setdefault("NPO_ALLOW_PRIVATE_NPO_URLS", "true")


def pytest_collection_finish(session: pytest.Session) -> None:
    if not session.items and not session.config.option.collectonly:
        raise pytest.UsageError("no tests collected: the suite must never pass empty")
