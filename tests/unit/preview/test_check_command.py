"""``npos check``: a bad file is one line naming the field, sent nowhere; the preview's text fits
80 columns, a table per stream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from npo_integration.cli.npos import npos
from npo_integration.cli.preview import render


def run(*args: str) -> Any:
    return CliRunner().invoke(npos, ["check", *args], env={"NPO_ADMIN_TOKEN": "t" * 40})


def test_a_file_that_is_not_a_config_is_one_line_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"npo_id": "acme", "display_name": "Acme", "base_url": 7}))
    result = run(str(bad), "--url", "http://127.0.0.1:9")  # nothing listens: nothing is sent
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"Error: {bad}: ") and "base_url" in line
    assert "Traceback" not in result.output


def test_a_file_that_is_not_json_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = run(str(bad))
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {bad}: invalid JSON at line 1 column 2: " + (
        "Expecting property name enclosed in double quotes"
    )


@pytest.mark.parametrize("pages", ["0", "11"])
def test_pages_out_of_range_is_refused(tmp_path: Path, pages: str) -> None:
    result = run(str(tmp_path / "absent.json"), "--pages", pages)
    assert result.exit_code == 2


ANSWER: dict[str, Any] = {
    "npo_id": "acme",
    "warnings": [],
    "sources": [
        {
            "name": "crm",
            "base_url": "http://127.0.0.1:8900/npos/acme",
            "streams": [
                {
                    "key": "crm/programs",
                    "name": "programs",
                    "kind": "offerings",
                    "enabled": True,
                    "walked": True,
                    "pages": 1,
                    "more": True,
                    "parent_record_id": None,
                    "requests": [
                        {
                            "method": "GET",
                            "url": "http://127.0.0.1:8900/npos/acme/api/offerings?page=1&per_page=2"
                            "&fields=id,title,description,kind,starts_on,capacity,updated_at",
                            "status": 200,
                            "milliseconds": 4.2,
                            "headers": {"Authorization": "***"},
                            "error": None,
                        }
                    ],
                    "records": [{"id": "off-0001"}, {"id": "off-0002"}],
                    "results": [
                        {
                            "record_id": "off-0001",
                            "model": {"npo_offering_ref": "crm:off-0001", "title": "Python " * 20},
                        },
                        {
                            "record_id": "off-0002",
                            "error": "required value is missing",
                            "field": "offering.title",
                            "path": "title",
                        },
                    ],
                    "error": None,
                },
                {
                    "key": "crm/people",
                    "name": "people",
                    "kind": "progress",
                    "enabled": False,
                    "walked": False,
                    "requests": [],
                    "results": [],
                },
            ],
            "enrolment": {
                "assignment_id": "preview-sample",
                "method": "POST",
                "url": "http://127.0.0.1:8900/npos/acme/api/enrolments",
                "headers": {"Idempotency-Key": "spotlight-enrol-abc"},
                "auth": "bearer (added when sent: ***)",
                "json_body": {"offering_id": "off-0001"},
                "form": None,
            },
        }
    ],
}


def test_the_preview_prints_a_table_per_stream_within_80_columns() -> None:
    lines = render(ANSWER, width=80)
    wide = [line for line in lines if len(line) > 80 and not line.startswith("#")]
    assert wide == []  # only a record's error is printed in full, below its table
    text = "\n".join(lines)
    assert "stream crm/programs (offerings): 1 page(s), 2 record(s), 1 error(s)" in text
    assert "the NPO has more pages (not fetched: --pages)" in text
    assert (
        "#2 off-0002: ERROR field offering.title (NPO path title): required value is missing"
        in (lines)
    )
    assert "ok crm:off-0001 Python" in text
    assert "stream crm/people (progress): not walked (disabled)" in text
    assert "enrolment for assignment preview-sample (not sent):" in text
    assert "  POST http://127.0.0.1:8900/npos/acme/api/enrolments" in text
    assert '"offering_id": "off-0001"' in text


def test_a_stopped_stream_and_a_failed_enrol_request_say_why() -> None:
    stream = {
        **ANSWER["sources"][0]["streams"][0],
        "error": "NpoRequestError: GET http://x/api -> HTTP 401: unauthorized",
        "results": [],
        "records": [],
        "more": False,
    }
    enrolment = {
        "assignment_id": "a-1",
        "error": "the NPO requires an email",
        "field": "candidate.email",
        "path": "candidate.email",
    }
    source = {**ANSWER["sources"][0], "streams": [stream], "enrolment": enrolment}
    text = "\n".join(render({**ANSWER, "sources": [source]}))
    assert "stopped: NpoRequestError: GET http://x/api -> HTTP 401: unauthorized" in text
    assert "ERROR field candidate.email (NPO path candidate.email): the NPO requires" in text
