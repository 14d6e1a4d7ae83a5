"""`npos authorize`: the consent URL printed, the redirect pasted (state checked), the code sent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from npo_integration.cli import admin_client
from npo_integration.cli.npos import npos

CONSENT = {"url": "https://app.example/oauth/authorize?state=s1", "state": "s1"}


def run(monkeypatch: pytest.MonkeyPatch, args: list[str], typed: str | None = None) -> Any:
    calls: list[tuple[str, str, Any]] = []

    def call(self: Any, method: str, path: str, body: str | None = None, **_: Any) -> Any:
        calls.append((method, path, None if body is None else json.loads(body)))
        return CONSENT if path.endswith("/consent?source=main") else {"status": "active"}

    monkeypatch.setattr(admin_client.AdminClient, "call", call)
    result = CliRunner().invoke(npos, ["authorize", "bb", *args], input=typed)
    return result, calls


def test_the_pasted_redirect_gives_its_code(monkeypatch: pytest.MonkeyPatch) -> None:
    result, calls = run(monkeypatch, [], "https://ops.example/cb?code=c-123&state=s1\n")
    assert result.exit_code == 0, result.output
    assert CONSENT["url"] in result.output and "c-123" not in result.output
    assert calls[-1] == ("POST", "/admin/npos/bb/oauth/code", {"source": "main", "code": "c-123"})


def test_a_redirect_of_another_consent_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    result, calls = run(monkeypatch, [], "https://ops.example/cb?code=c-123&state=other\n")
    assert result.exit_code == 1
    assert "state is not this consent's" in result.output
    assert all(method == "GET" for method, _, _ in calls)


def test_a_code_given_as_an_option_is_sent_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    result, calls = run(monkeypatch, ["--code", "c-9", "--source", "crm"])
    assert result.exit_code == 0, result.output
    assert calls == [("POST", "/admin/npos/bb/oauth/code", {"source": "crm", "code": "c-9"})]
