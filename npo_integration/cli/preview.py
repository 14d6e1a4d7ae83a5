"""``npo-integration npos check FILE``: preview a config before registering it, through a running
worker's ``POST /admin/npos/preview`` (the worker calls the NPO; nothing is stored or sent on)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import click

from npo_integration.cli.admin_client import AdminClient
from npo_integration.cli.table import format_table
from npo_integration.errors import ConfigError
from npo_integration.json_input import JsonInputError, loads
from npo_integration.registry.config_file import parse_configs
from npo_integration.registry.preview import MAX_PAGES

RESULT_HEADERS = ("#", "RECORD", "RESULT")
REQUEST_HEADERS = ("METHOD", "URL", "STATUS", "MS")


@click.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--stream", default=None, help="one stream by key: offerings, SOURCE/STREAM")
@click.option(
    "--pages", type=click.IntRange(1, MAX_PAGES), default=1, show_default=True, help="per stream"
)
@click.option(
    "--assignment",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="a candidate_assignment.created event (JSON) to build the enrol request for",
)
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--url", envvar="NPO_ADMIN_URL", default=None, help="worker web address")
def check(
    file: Path,
    stream: str | None,
    pages: int,
    assignment: Path | None,
    output: str,
    url: str | None,
) -> None:
    """Dry run of the config in FILE: call its NPO and show each stream's requests (secrets
    redacted), records and what the transform makes of them, and the enrol request for a sample
    assignment (not sent). Nothing is registered or published."""
    documents = config_documents(file)
    body: dict[str, Any] = {"stream": stream, "pages": pages}
    if assignment is not None:
        body["assignment"] = _json_file(assignment)
    client = AdminClient(url)
    answers = [
        client.call("POST", "/admin/npos/preview", json.dumps({**body, "config": doc}), ok=(200,))
        for doc in documents
    ]
    if output == "json":
        click.echo(json.dumps(answers[0] if len(answers) == 1 else answers, indent=2))
        return
    width = shutil.get_terminal_size((80, 24)).columns
    for answer in answers:
        for line in render(answer, width=width):
            click.echo(line)


def config_documents(file: Path) -> list[Any]:
    """The config(s) in FILE as written (the worker seals their secrets), refused here in one
    line naming the field when one is not a config."""
    text = file.read_text(encoding="utf-8")
    try:
        parse_configs(text, origin=str(file))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    document = json.loads(text)
    return document if isinstance(document, list) else [document]


def _json_file(path: Path) -> Any:
    try:
        return loads(path.read_bytes())
    except JsonInputError as exc:
        raise click.ClickException(f"{path}: {exc}") from None


def render(answer: dict[str, Any], *, width: int = 80) -> list[str]:
    """The preview as text: per source, per stream, a table of requests and one of records."""
    lines = [f"NPO {answer['npo_id']}"]
    lines += [f"warning: {warning}" for warning in answer.get("warnings", [])]
    for source in answer["sources"]:
        lines += ["", f"source {source['name']}  {source['base_url']}"]
        for stream in source["streams"]:
            lines += ["", *_stream(stream, width)]
        lines += ["", *_enrolment(source.get("enrolment"))]
    return lines


def _stream(stream: dict[str, Any], width: int) -> list[str]:
    title = f"stream {stream['key']} ({stream['kind']})"
    if not stream["walked"]:
        return [f"{title}: not walked" + ("" if stream["enabled"] else " (disabled)")]
    results = stream["results"]
    failed = sum(1 for result in results if result.get("error"))
    summary = f"{stream['pages']} page(s), {len(results)} record(s), {failed} error(s)"
    lines = [f"{title}: {summary}"]
    if stream.get("more"):
        lines.append("the NPO has more pages (not fetched: --pages)")
    if stream.get("parent_record_id"):
        lines.append(f"for parent record {stream['parent_record_id']}")
    requests = [
        (r["method"], r["url"], str(r["status"] or "-"), f"{r['milliseconds']:.0f}")
        for r in stream["requests"]
    ]
    lines += format_table(REQUEST_HEADERS, requests, width=width)
    if stream.get("error"):
        lines.append(f"stopped: {stream['error']}")
    if results:
        rows = [(str(i), r["record_id"] or "-", _result(r)) for i, r in enumerate(results, 1)]
        lines += ["", *format_table(RESULT_HEADERS, rows, width=width)]
        # an error is what the operator came for: in full below the table, which may cut it
        lines += [f"#{i} {r['record_id'] or '-'}: {_error(r)}" for i, r in _errors(results)]
    return lines


def _errors(results: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    return [(i, result) for i, result in enumerate(results, 1) if result.get("error")]


def _error(found: dict[str, Any]) -> str:
    """``ERROR field offering.title (NPO path title): reason``, as the transform said it."""
    where = " ".join(
        part
        for part in (
            f"field {found['field']}" if found.get("field") else "",
            f"(NPO path {found['path']})" if found.get("path") else "",
        )
        if part
    )
    return f"ERROR {where}: {found['error']}" if where else f"ERROR {found['error']}"


def _result(result: dict[str, Any]) -> str:
    if result.get("error"):
        return _error(result)
    if result.get("skipped"):
        return "skipped (not a platform record)"
    model = result.get("model") or {}
    label = model.get("title") or model.get("status") or ""
    ref = model.get("npo_offering_ref") or model.get("npo_enrolment_ref") or ""
    return f"ok {ref} {label}".rstrip()


def _enrolment(sample: dict[str, Any] | None) -> list[str]:
    if sample is None:
        return ["enrolment: not enabled"]
    head = f"enrolment for assignment {sample['assignment_id']} (not sent):"
    if sample.get("error"):
        return [head, f"  {_error(sample)}"]
    lines = [head, f"  {sample['method']} {sample['url']}", f"  auth: {sample['auth']}"]
    lines += [f"  {name}: {value}" for name, value in sample["headers"].items()]
    if sample.get("json_body") is not None:
        lines += ["  " + line for line in json.dumps(sample["json_body"], indent=2).splitlines()]
    for name, value in sample.get("form") or []:
        lines.append(f"  {name}={value}")
    return lines
