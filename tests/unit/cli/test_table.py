"""The operator commands' tables fit an 80-column terminal; piped, they stay tab-separated."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from npo_integration.cli import admin_client, table
from npo_integration.cli.enrolments import enrolments
from npo_integration.cli.table import format_table

HEADERS = ("ASSIGNMENT", "STATUS", "ATTEMPTS", "NPO REF", "REASON")
ENROLMENTS: dict[str, Any] = {
    "enrolments": [
        {
            "assignment_id": "asg-" + "7" * 40,
            "status": "failed",
            "attempts": 3,
            "npo_enrolment_ref": None,
            "reason": "HTTP 422 from the NPO: offering 'course-12' is closed for enrolment\nretry",
        },
        {
            "assignment_id": "asg-2",
            "status": "confirmed",
            "attempts": 1,
            "npo_enrolment_ref": "e-9",
            "reason": None,
        },
    ],
    "counts": {"failed": 1, "confirmed": 1},
    "partitions": 8,
}


def test_short_rows_are_aligned_and_kept_whole() -> None:
    lines = format_table(("A", "B"), [("x", "long value"), ("yyyy", "v")], width=80)
    assert lines == ["A     B", "x     long value", "yyyy  v"]


def test_long_rows_are_cut_to_the_width_widest_column_first() -> None:
    rows = [("asg-" + "7" * 40, "failed", "3", "-", "r" * 120)]
    lines = format_table(HEADERS, rows, width=80)
    assert all(len(line) <= 80 for line in lines)
    assert lines[1].endswith("…") and "failed" in lines[1]


def test_a_table_continued_page_by_page_has_one_header() -> None:
    assert format_table(("A",), [("x",)], width=80, header=False) == ["x"]


def list_enrolments(monkeypatch: pytest.MonkeyPatch, *, terminal: bool) -> list[str]:
    monkeypatch.setattr(admin_client.AdminClient, "call", lambda *a, **k: ENROLMENTS)
    monkeypatch.setattr(table, "_is_terminal", lambda: terminal)
    monkeypatch.setattr(table, "_width", lambda: 80)
    result = CliRunner().invoke(enrolments, ["list", "npo-1"])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_enrolments_list_fits_an_80_column_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = list_enrolments(monkeypatch, terminal=True)
    assert lines[0].split() == ["ASSIGNMENT", "STATUS", "ATTEMPTS", "NPO", "REF", "REASON"]
    assert len(lines) == 3 and all(len(line) <= 80 for line in lines)
    assert lines[2].split() == ["asg-2", "confirmed", "1", "e-9"]


def test_enrolments_list_piped_is_tab_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = list_enrolments(monkeypatch, terminal=False)
    assert lines[1] == "asg-2\tconfirmed\t1\te-9\t"
    assert lines[0].startswith("asg-" + "7" * 40 + "\tfailed\t3\t-\tHTTP 422")
