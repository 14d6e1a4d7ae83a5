"""Settings every test process needs before the app module is imported."""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # only the fuzz tests need it (the test extra); the rest run without
    settings = None

if settings is not None:
    # Fuzz tests (tests/unit/fuzz) are deterministic (derandomize: the same examples every run,
    # no example database) and quick; HYPOTHESIS_PROFILE=deep searches more, at random.
    settings.register_profile(
        "ci",
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=150,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    settings.register_profile("deep", deadline=None, max_examples=5_000)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Unit tests import the app; give it a throwaway key and keep it off the network.
os.environ.setdefault("NPO_SECRETS_KEYS", Fernet.generate_key().decode())
os.environ.setdefault("NPO_ALLOW_PRIVATE_NPO_URLS", "true")


def pytest_collection_finish(session: pytest.Session) -> None:
    if not session.items and not session.config.option.collectonly:
        raise pytest.UsageError("no tests collected: the suite must never pass empty")


_LOGS_AT_SETUP = pytest.StashKey[dict[Path, int]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    from tests.integration.support.processes import log_sizes

    item.stash[_LOGS_AT_SETUP] = log_sizes()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report carries the errors its workers and simulators logged meanwhile
    (from its setup on: fixtures start processes)."""
    report = yield
    if report.failed and call.when in ("setup", "call"):
        from tests.integration.support.processes import errors_logged

        if logged := errors_logged(since=item.stash.get(_LOGS_AT_SETUP, {})):
            report.sections.append(("errors the test's processes logged", logged))
    return report
