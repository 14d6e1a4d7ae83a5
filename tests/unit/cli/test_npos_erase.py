"""``npos erase ID``: irreversible, so it asks first (``--yes`` for scripts), then posts the erase
and waits for it to apply."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from npo_integration.cli import npos as npos_cli


class Client:
    calls: ClassVar[list[tuple[str, str]]] = []

    def __init__(self, url: str | None) -> None:
        pass

    def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        self.calls.append((method, path))
        return {"npo_id": "gone", "status": "applied", "version": 3}


@pytest.fixture(autouse=True)
def client(monkeypatch: pytest.MonkeyPatch) -> None:
    Client.calls = []
    monkeypatch.setattr(npos_cli, "AdminClient", Client)


def test_erase_asks_and_a_no_sends_nothing() -> None:
    result = CliRunner().invoke(npos_cli.npos, ["erase", "gone"], input="n\n")
    assert result.exit_code == 1 and "Erase NPO gone?" in result.output
    assert Client.calls == []


def test_erase_posts_once_confirmed_or_with_yes() -> None:
    asked = CliRunner().invoke(npos_cli.npos, ["erase", "gone"], input="y\n")
    assert asked.exit_code == 0, asked.output
    scripted = CliRunner().invoke(npos_cli.npos, ["erase", "gone", "--yes"])
    assert scripted.exit_code == 0 and "Erase NPO" not in scripted.output
    assert Client.calls == [("POST", "/admin/npos/gone/erase?wait=true")] * 2
